"""Images arriving from the engine: `{"data:<mime>;base64": ...}` dicts anywhere in an input (an image
parameter, or inside lists and dicts such as chat history) become `Image` objects, as Prompt Flow hands them to
tools. The reverse (an Image returned by user code) is in jsonable.py."""
import base64
import re

_BASE64_KEY = re.compile(r"^data:(image/[^;]*);base64$")


def _image(mime, data):
    from promptflow.contracts.multimedia import Image

    return Image(base64.b64decode(data), mime_type=mime)


def load_images(value):
    """The value with every base64 image dict replaced by an Image (the same object when there is none)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, data), = value.items()
            match = _BASE64_KEY.match(key) if isinstance(key, str) else None
            if match and isinstance(data, str):
                return _image(match.group(1), data)
        changed = None
        for key, item in value.items():
            loaded = load_images(item)
            if loaded is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = loaded
        return value if changed is None else changed
    if isinstance(value, list):
        changed = None
        for i, item in enumerate(value):
            loaded = load_images(item)
            if loaded is not item:
                if changed is None:
                    changed = list(value)
                changed[i] = loaded
        return value if changed is None else changed
    return value

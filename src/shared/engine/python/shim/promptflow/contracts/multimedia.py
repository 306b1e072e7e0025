"""Image: bytes with a MIME type, as Prompt Flow passes image inputs to tools."""


class PFBytes(bytes):
    def __new__(cls, value, mime_type="application/octet-stream", source_url=None):
        obj = super().__new__(cls, value)
        obj._mime_type = mime_type
        obj._source_url = source_url
        return obj

    @property
    def source_url(self):
        return self._source_url

    def to_base64(self, with_type=False):
        import base64

        encoded = base64.b64encode(self).decode("ascii")
        return f"data:{self._mime_type};base64,{encoded}" if with_type else encoded


class Image(PFBytes):
    def __new__(cls, value, mime_type="image/*", source_url=None):
        return super().__new__(cls, value, mime_type, source_url)


class Text(str):
    pass

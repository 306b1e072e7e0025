"""promptflow.tools.common: template rendering and chat parsing, done by the engine so the
results match the engine's own llm/prompt nodes exactly."""


def render_jinja_template(prompt, trim_blocks=True, keep_trailing_newline=True, escape_dict=None, **kwargs):
    from llmops_worker import bridge

    return bridge.call_engine("render", {"template": prompt, "inputs": kwargs})


def parse_chat(chat_str, images=None, valid_roles=None, image_detail="auto"):
    from llmops_worker import bridge

    payload = {"text": chat_str}
    if valid_roles is not None:
        payload["validRoles"] = list(valid_roles)
    return bridge.call_engine("parse_chat", payload)

from promptflow.core import tool


@tool
def prepare_examples() -> list:
    return [
        {
            "url": "https://www.youtube.com/@MrBeast",
            "text_content": "MrBeast YouTube channel: subscribe, videos, shorts, live, 200M subscribers.",
            "category": "Channel",
            "evidence": "Both",
        },
        {
            "url": "https://arxiv.org/abs/2005.14165",
            "text_content": "Language Models are Few-Shot Learners. Abstract. We show that scaling up language models improves few-shot performance.",
            "category": "Academic",
            "evidence": "Both",
        },
        {
            "url": "https://play.google.com/store/apps/details?id=com.microsoft.teams",
            "text_content": "Microsoft Teams app: install, 100M+ downloads, chat, meetings and calls.",
            "category": "App",
            "evidence": "Both",
        },
    ]

from promptflow.core import tool


@tool
def worked_examples() -> list:
    """Worked question → program pairs shown to variant_1 (none of them is in the datasets)."""
    return [
        {"question": "What is 3 divided by 4?", "program": "print(3 / 4)"},
        {
            "question": "What is the 10th triangular number?",
            "program": "total = 0\nfor k in range(1, 11):\n    total += k\nprint(total)",
        },
    ]

import json

from promptflow.core import tool


@tool
def convert_to_dict(input_str: str) -> dict:
    try:
        return json.loads(input_str)
    except Exception as e:  # the model did not answer JSON: keep the line, say so in the output
        print("The input is not valid JSON, error: {}".format(e))
        return {"category": "None", "evidence": "None"}

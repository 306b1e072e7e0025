"""promptflow.tools.aoai: chat/completion against an AzureOpenAIConnection (via the engine)."""
from promptflow.tools._llm import call_llm


def chat(connection, prompt, deployment_name="", temperature=None, top_p=None, n=None, stream=False,
         stop=None, max_tokens=None, presence_penalty=None, frequency_penalty=None, logit_bias=None,
         user=None, function_call=None, functions=None, response_format=None, seed=None, tools=None,
         tool_choice=None, **kwargs):
    params = dict(deployment_name=deployment_name or None, temperature=temperature, top_p=top_p, n=n,
                  stream=stream or None, stop=stop, max_tokens=max_tokens, presence_penalty=presence_penalty,
                  frequency_penalty=frequency_penalty, logit_bias=logit_bias, user=user,
                  function_call=function_call, functions=functions, response_format=response_format,
                  seed=seed, tools=tools, tool_choice=tool_choice)
    return call_llm("AzureOpenAI", "chat", connection, prompt, params, kwargs)


def completion(connection, prompt, deployment_name="", **kwargs):
    params = {k: kwargs.pop(k) for k in list(kwargs) if k in _COMPLETION_PARAMS}
    params["deployment_name"] = deployment_name or None
    return call_llm("AzureOpenAI", "completion", connection, prompt, params, kwargs)


_COMPLETION_PARAMS = ("suffix", "max_tokens", "temperature", "top_p", "n", "stream", "logprobs", "echo", "stop",
                      "presence_penalty", "frequency_penalty", "best_of", "logit_bias", "user", "seed")


class AzureOpenAI:
    def __init__(self, connection):
        self.connection = connection

    def chat(self, prompt, **kwargs):
        return chat(self.connection, prompt, **kwargs)

    def completion(self, prompt, **kwargs):
        return completion(self.connection, prompt, **kwargs)

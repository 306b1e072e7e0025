"""Evaluator classes of the evaluation SDKs, backed by llmops' built-in evaluators and judges.

Each call asks the engine (callback `code_evaluator`, action `score`) to run the built-in: an LLM
judge prompty through the engine's model configuration handling (so the same cache, limits and
token accounting apply), or a deterministic scorer (F1, BLEU, ROUGE-L). The two SDK flavours differ
only in parameter names and result keys, which `_Spec` describes.
"""
import dataclasses
import enum


class RougeType(str, enum.Enum):
    ROUGE_1 = "rouge1"
    ROUGE_2 = "rouge2"
    ROUGE_3 = "rouge3"
    ROUGE_4 = "rouge4"
    ROUGE_5 = "rouge5"
    ROUGE_L = "rougeL"


def _encode_model_config(config):
    """A model configuration as the engine reads it: dataclass (promptflow.core) or dict (azure-ai-evaluation)."""
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        from promptflow.core._engine_payload import encode_model_config
        return encode_model_config(config)
    if isinstance(config, dict):
        encoded = {k: v for k, v in config.items() if v is not None}
        encoded.setdefault("type", "azure_openai" if encoded.get("azure_endpoint") or encoded.get("azure_deployment")
                           else "openai")
        return encoded
    raise TypeError(f"model_config: expected AzureOpenAIModelConfiguration, OpenAIModelConfiguration or a dict, "
                    f"found {type(config).__name__}")


def _score(builtin, inputs, model_config=None, options=None):
    from llmops_worker import bridge
    payload = {"action": "score", "evaluator": builtin, "inputs": inputs}
    if model_config is not None:
        payload["model_config"] = model_config
    if options:
        payload["options"] = options
    return bridge.call_engine("code_evaluator", payload)


def _text(value):
    return "" if value is None else value if isinstance(value, str) else str(value)


@dataclasses.dataclass
class _Spec:
    builtin: str
    # SDK parameter -> built-in input, in the SDK's order; parameters after `optional` may be omitted.
    params: dict
    required: tuple
    judge: bool
    keys: callable  # (engine answer) -> the SDK's result dict


def _judge_keys(metric, flavour):
    def keys(answer):
        score = answer.get("score") if isinstance(answer, dict) else answer
        try:
            score = float(score)
        except (TypeError, ValueError):
            score = float("nan")
        if flavour == "promptflow":
            return {f"gpt_{metric}": score}
        out = {metric: score, f"gpt_{metric}": score}
        if metric != "similarity":
            out[f"{metric}_reason"] = answer.get("reason", "") if isinstance(answer, dict) else ""
        return out
    return keys


def _plain_key(key):
    return lambda answer: {key: float(answer)}


def _rouge_keys(answer):
    return {"rouge_precision": answer["precision"], "rouge_recall": answer["recall"], "rouge_f1_score": answer["f1"]}


def _specs(flavour):
    """Evaluator specs of one SDK flavour ("promptflow": promptflow-evals, "azure": azure-ai-evaluation)."""
    q, a = ("question", "answer") if flavour == "promptflow" else ("query", "response")
    j = lambda m: _judge_keys(m, flavour)  # noqa: E731
    return {
        "GroundednessEvaluator": _Spec("groundedness", {a: "answer", "context": "context"} if flavour == "promptflow"
                                       else {a: "answer", "context": "context", q: "question"},
                                       (a, "context"), True, j("groundedness")),
        "RelevanceEvaluator": _Spec("relevance", {q: "question", a: "answer", "context": "context"}
                                    if flavour == "promptflow" else {q: "question", a: "answer"},
                                    (q, a), True, j("relevance")),
        "CoherenceEvaluator": _Spec("coherence", {q: "question", a: "answer"}, (q, a) if flavour == "promptflow" else (a,),
                                    True, j("coherence")),
        "FluencyEvaluator": _Spec("fluency", {q: "question", a: "answer"} if flavour == "promptflow" else {a: "answer"},
                                  (a,), True, j("fluency")),
        "SimilarityEvaluator": _Spec("similarity", {q: "question", a: "answer", "ground_truth": "ground_truth"},
                                     (q, a, "ground_truth"), True, j("similarity")),
        "F1ScoreEvaluator": _Spec("f1_score", {a: "answer", "ground_truth": "ground_truth"}, (a, "ground_truth"), False,
                                  _plain_key("f1_score")),
        "BleuScoreEvaluator": _Spec("bleu", {a: "answer", "ground_truth": "ground_truth"}, (a, "ground_truth"), False,
                                    _plain_key("bleu_score")),
        "RougeScoreEvaluator": _Spec("rouge_l", {a: "answer", "ground_truth": "ground_truth"}, (a, "ground_truth"), False,
                                     _rouge_keys),
    }


class _BuiltinEvaluator:
    _spec = None

    def __init__(self, model_config=None, **kwargs):
        if self._spec.builtin == "rouge_l":
            # RougeScoreEvaluator(rouge_type): only ROUGE-L is a built-in of llmops.
            rouge_type = kwargs.get("rouge_type", model_config)
            if str(getattr(rouge_type, "value", rouge_type)) != RougeType.ROUGE_L.value:
                raise NotImplementedError(f"RougeScoreEvaluator: rouge_type {rouge_type!r} is not available in llmops, "
                                          f"expected RougeType.ROUGE_L ('rougeL')")
            model_config = None
        self._model_config = _encode_model_config(model_config) if self._spec.judge else None
        if self._spec.judge and self._model_config is None:
            raise TypeError(f"{type(self).__name__} is judged by a model: it needs model_config=")
        self._options = {}

    def __call__(self, **kwargs):
        spec = self._spec
        missing = [p for p in spec.required if kwargs.get(p) is None]
        if missing:
            raise TypeError(f"{type(self).__name__}() missing required inputs: {', '.join(missing)}")
        unknown = [k for k in kwargs if k not in spec.params]
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected inputs: {', '.join(unknown)} "
                            f"(expected {', '.join(spec.params)})")
        inputs = {spec.params[k]: _text(v) for k, v in kwargs.items() if v is not None}
        return spec.keys(_score(spec.builtin, inputs, self._model_config, self._options))


def _make_class(name, spec):
    params = ", ".join(spec.params)

    def call(self, **kwargs):
        return _BuiltinEvaluator.__call__(self, **kwargs)

    call.__signature__ = _keyword_signature(spec.params)
    call.__doc__ = f"Score one line ({params})."
    return type(name, (_BuiltinEvaluator,), {"_spec": spec, "__call__": call,
                                             "__doc__": f"{name}: llmops built-in '{spec.builtin}' ({params})."})


def _keyword_signature(params):
    import inspect
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=None) for p in params]
    return inspect.Signature(parameters)


class _Unavailable:
    """An evaluator the stand-in does not provide: a clear error when it is built."""

    _available = ()

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} is not available without the real evaluation SDK package; llmops provides "
            f"{', '.join(self._available)} (install the SDK in the flow's Python environment to use the others)")


_UNAVAILABLE = ("GleuScoreEvaluator", "MeteorScoreEvaluator", "ChatEvaluator", "ContentSafetyEvaluator",
                "ContentSafetyChatEvaluator", "ViolenceEvaluator", "SexualEvaluator", "SelfHarmEvaluator",
                "HateUnfairnessEvaluator", "ProtectedMaterialEvaluator", "IndirectAttackEvaluator",
                "RetrievalEvaluator", "GroundednessProEvaluator")


def evaluator_classes(flavour):
    """name -> class for one SDK flavour, including QAEvaluator, RougeType and the unavailable ones."""
    classes = {name: _make_class(name, spec) for name, spec in _specs(flavour).items()}
    q, a = ("question", "answer") if flavour == "promptflow" else ("query", "response")
    parts = {"groundedness": "GroundednessEvaluator", "relevance": "RelevanceEvaluator",
             "coherence": "CoherenceEvaluator", "fluency": "FluencyEvaluator",
             "similarity": "SimilarityEvaluator", "f1_score": "F1ScoreEvaluator"}

    class QAEvaluator:
        """Groundedness, relevance, coherence, fluency, similarity and F1 of one answer."""

        def __init__(self, model_config, **kwargs):
            self._parts = {key: (classes[cls](model_config) if key != "f1_score" else classes[cls]())
                           for key, cls in parts.items()}

        def __call__(self, **kwargs):
            out = {}
            for part in self._parts.values():
                wanted = {k: v for k, v in kwargs.items() if k in part._spec.params and v is not None}
                out.update(part(**wanted))
            return out

    QAEvaluator.__call__.__signature__ = _keyword_signature((q, a, "context", "ground_truth"))
    classes["QAEvaluator"] = QAEvaluator
    available = tuple(sorted(classes))
    classes["RougeType"] = RougeType
    for name in _UNAVAILABLE:
        classes[name] = type(name, (_Unavailable,), {"_available": available})
    return classes

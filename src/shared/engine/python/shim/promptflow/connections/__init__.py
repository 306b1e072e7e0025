"""Connection classes (llmops shim). Strong types expose their fields as attributes;
CustomConnection keeps .configs/.secrets and behaves like a read-only mapping of both."""
import os


class _Connection:
    __llmops_connection__ = True
    TYPE = None
    _DEFAULTS = {}
    _SECRETS = ("api_key",)

    def __init__(self, name=None, **fields):
        self.name = name
        for key, value in self._DEFAULTS.items():
            setattr(self, key, value)
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def type(self):
        return type(self).__name__[: -len("Connection")]

    def _values(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "name" and v is not None}

    def _to_engine(self):
        return {"name": self.name, "type": type(self).__name__, "value": self._values(),
                "secret_keys": [k for k in self._SECRETS if k in self._values()]}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class AzureOpenAIConnection(_Connection):
    _DEFAULTS = {"api_type": "azure", "api_version": "2024-02-01", "auth_mode": "key", "api_key": None,
                 "api_base": None, "resource_id": None}

    @classmethod
    def from_env(cls, name=None):
        return cls(name=name, api_base=os.environ.get("AZURE_OPENAI_ENDPOINT"),
                   api_key=os.environ.get("AZURE_OPENAI_API_KEY"),
                   api_version=os.environ.get("OPENAI_API_VERSION") or "2024-02-01")


class OpenAIConnection(_Connection):
    _DEFAULTS = {"api_key": None, "organization": None, "base_url": None}

    def __init__(self, name=None, **fields):
        super().__init__(name=name, **fields)
        if self.base_url in ("", "_"):
            self.base_url = None

    @classmethod
    def from_env(cls, name=None):
        return cls(name=name, api_key=os.environ.get("OPENAI_API_KEY"),
                   base_url=os.environ.get("OPENAI_BASE_URL"), organization=os.environ.get("OPENAI_ORG_ID"))


class ServerlessConnection(_Connection):
    _DEFAULTS = {"api_key": None, "api_base": None}


class CognitiveSearchConnection(_Connection):
    _DEFAULTS = {"api_key": None, "api_base": None, "api_version": "2023-11-01", "auth_mode": "key"}


class SerpConnection(_Connection):
    _DEFAULTS = {"api_key": None}


class FormRecognizerConnection(_Connection):
    _DEFAULTS = {"api_key": None, "endpoint": None, "api_version": "2023-07-31", "api_type": "Form Recognizer"}


class AzureContentSafetyConnection(_Connection):
    _DEFAULTS = {"api_key": None, "endpoint": None, "api_version": "2023-10-01", "api_type": "Content Safety"}


class AzureAIServicesConnection(_Connection):
    _DEFAULTS = {"api_key": None, "endpoint": None, "auth_mode": "key"}


class CustomConnection(_Connection):
    def __init__(self, secrets=None, configs=None, name=None, **kwargs):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "secrets", dict(secrets or {}))
        object.__setattr__(self, "configs", dict(configs or {}, **kwargs))

    def __getattr__(self, key):
        # Only called when normal lookup fails: fall back to secrets, then configs.
        data = self.__dict__
        if key in data.get("secrets", {}):
            return data["secrets"][key]
        if key in data.get("configs", {}):
            return data["configs"][key]
        raise AttributeError(f"CustomConnection '{data.get('name')}' has no key '{key}'")

    def _merged(self):
        return {**self.configs, **self.secrets}

    def __getitem__(self, key):
        return self._merged()[key]

    def __iter__(self):
        return iter(self._merged())

    def __len__(self):
        return len(self._merged())

    def __contains__(self, key):
        return key in self._merged()

    def keys(self):
        return self._merged().keys()

    def items(self):
        return self._merged().items()

    def values(self):
        return self._merged().values()

    def get(self, key, default=None):
        return self._merged().get(key, default)

    def is_secret(self, key):
        return key in self.secrets

    def _to_engine(self):
        return {"name": self.name, "type": "CustomConnection", "value": self._merged(),
                "secret_keys": list(self.secrets)}

    def _convert_to_custom_strong_type(self, module=None, to_class=None):
        """This connection as the strong type a tool declares (`to_class`, a class or its name in `module`)."""
        klass = to_class
        if not isinstance(klass, type):
            import importlib

            module_name = module or self.configs.get("promptflow.connection.module")
            class_name = to_class or self.configs.get("promptflow.connection.custom_type")
            klass = getattr(importlib.import_module(module_name), class_name)
        return klass(configs=self.configs, secrets=self.secrets, name=self.name)


class CustomStrongTypeConnection(_Connection):
    """Base of a tool package's own connection type: fields are class annotations, those annotated
    `Secret` are secrets, the others configs (class attributes are their defaults)::

        class MyConnection(CustomStrongTypeConnection):
            api_key: Secret
            api_url: str = "https://example.com"
    """

    def __init__(self, secrets=None, configs=None, name=None, **kwargs):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "secrets", dict(secrets or {}))
        object.__setattr__(self, "configs", dict(configs or {}))
        object.__setattr__(self, "module", kwargs.pop("module", type(self).__module__))
        object.__setattr__(self, "custom_type", kwargs.pop("custom_type", type(self).__name__))
        object.__setattr__(self, "package", kwargs.pop("package", None))
        object.__setattr__(self, "package_version", kwargs.pop("package_version", None))
        for key, value in kwargs.items():
            setattr(self, key, value)

    @classmethod
    def _fields(cls):
        fields = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, CustomStrongTypeConnection) and klass is not CustomStrongTypeConnection:
                fields.update(vars(klass).get("__annotations__", {}))
        return fields

    @classmethod
    def _is_secret(cls, annotation):
        from promptflow.contracts.types import Secret

        return annotation is Secret or getattr(annotation, "__name__", annotation) == "Secret"

    def __getattribute__(self, key):
        # Annotated fields live in configs/secrets; the class attribute is only their default.
        if not key.startswith("_"):
            fields = type(self)._fields()
            if key in fields:
                store = object.__getattribute__(self, "secrets" if type(self)._is_secret(fields[key]) else "configs")
                if key in store:
                    return store[key]
                if hasattr(type(self), key):
                    return getattr(type(self), key)
                raise AttributeError(f"{type(self).__name__} '{object.__getattribute__(self, 'name')}' has no value "
                                     f"for '{key}'")
        return object.__getattribute__(self, key)

    def __setattr__(self, key, value):
        fields = type(self)._fields()
        if key in fields:
            self.__dict__["secrets" if type(self)._is_secret(fields[key]) else "configs"][key] = value
        else:
            object.__setattr__(self, key, value)

    @property
    def type(self):
        return "Custom"

    def is_secret(self, key):
        return key in self.secrets

    def _to_engine(self):
        return {"name": self.name, "type": "CustomConnection", "value": {**self.configs, **self.secrets},
                "secret_keys": list(self.secrets)}


__all__ = ["AzureOpenAIConnection", "OpenAIConnection", "ServerlessConnection", "CognitiveSearchConnection",
           "SerpConnection", "FormRecognizerConnection", "AzureContentSafetyConnection",
           "AzureAIServicesConnection", "CustomConnection", "CustomStrongTypeConnection"]

"""Model configurations accepted by flex-flow init and Prompty.load(model={"configuration": ...})."""
from dataclasses import dataclass


class ModelConfiguration:
    pass


@dataclass
class AzureOpenAIModelConfiguration(ModelConfiguration):
    azure_deployment: str = None
    azure_endpoint: str = None
    api_version: str = None
    api_key: str = None
    organization: str = None
    connection: str = None

    def __post_init__(self):
        self._type = "azure_openai"
        if self.connection and any([self.azure_endpoint, self.api_key, self.api_version, self.organization]):
            raise ValueError("Specify either connection or endpoint/key fields, not both.")

    @classmethod
    def from_connection(cls, connection, azure_deployment=None):
        config = cls(azure_deployment=azure_deployment, azure_endpoint=getattr(connection, "api_base", None),
                     api_key=getattr(connection, "api_key", None),
                     api_version=getattr(connection, "api_version", None))
        config._connection_name = getattr(connection, "name", None)
        return config


@dataclass
class OpenAIModelConfiguration(ModelConfiguration):
    model: str = None
    base_url: str = None
    api_key: str = None
    organization: str = None
    connection: str = None

    def __post_init__(self):
        self._type = "openai"
        if self.connection and any([self.base_url, self.api_key, self.organization]):
            raise ValueError("Specify either connection or base_url/key fields, not both.")

    @classmethod
    def from_connection(cls, connection, model=None):
        config = cls(model=model, base_url=getattr(connection, "base_url", None),
                     api_key=getattr(connection, "api_key", None),
                     organization=getattr(connection, "organization", None))
        config._connection_name = getattr(connection, "name", None)
        return config

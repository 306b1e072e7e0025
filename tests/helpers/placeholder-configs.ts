/**
 * Configuration files as a new use case holds them before anyone fills them in: the deployment
 * targets with empty names (the template's shape, written weeks before the first deployment).
 */
export const emptyDeploymentConfig = `{
    "azure_managed_endpoint":[
        {
            "ENV_NAME": "dev",
            "TEST_FILE_PATH": "sample-request.json",
            "ENDPOINT_NAME": "",
            "ENDPOINT_DESC": "An online endpoint serving the flow",
            "DEPLOYMENT_DESC": "prompt flow deployment",
            "PRIOR_DEPLOYMENT_NAME": "",
            "PRIOR_DEPLOYMENT_TRAFFIC_ALLOCATION": "",
            "CURRENT_DEPLOYMENT_NAME": "",
            "CURRENT_DEPLOYMENT_TRAFFIC_ALLOCATION": "100",
            "DEPLOYMENT_VM_SIZE": "Standard_F4s_v2",
            "DEPLOYMENT_INSTANCE_COUNT": 1,
            "ENVIRONMENT_VARIABLES": {
                "example-name": "example-value"
            }
        }
    ],
    "webapp_endpoint":[
        {
            "ENV_NAME": "dev",
            "TEST_FILE_PATH": "sample-request.json",
            "CONNECTION_NAMES": [""],
            "REGISTRY_NAME": "",
            "REGISTRY_RG_NAME": "",
            "APP_PLAN_NAME": "",
            "WEB_APP_NAME": "",
            "WEB_APP_RG_NAME": "",
            "WEB_APP_SKU": "B3",
            "USER_MANAGED_ID": ""
        }
    ]
}
`;

/** Every problem of emptyDeploymentConfig, once each, as validate prints them (without the "error:" word). */
export const emptyDeploymentProblems = [
  "configs/deployment_config.json:6:30: azure_managed_endpoint[0].ENDPOINT_NAME: found an empty text, expected a name of 2-32 letters, digits or '-', starting with a letter",
  "configs/deployment_config.json:11:40: azure_managed_endpoint[0].CURRENT_DEPLOYMENT_NAME: found an empty text, expected a name of 2-32 letters, digits or '-', starting with a letter",
  'configs/deployment_config.json:24:34: webapp_endpoint[0].CONNECTION_NAMES[0]: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:25:30: webapp_endpoint[0].REGISTRY_NAME: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:26:33: webapp_endpoint[0].REGISTRY_RG_NAME: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:27:30: webapp_endpoint[0].APP_PLAN_NAME: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:28:29: webapp_endpoint[0].WEB_APP_NAME: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:29:32: webapp_endpoint[0].WEB_APP_RG_NAME: found an empty text, expected a non-empty value',
  'configs/deployment_config.json:31:32: webapp_endpoint[0].USER_MANAGED_ID: found an empty text, expected a non-empty value',
];

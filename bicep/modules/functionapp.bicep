// Flex Consumption Function App running the .NET isolated worker (functions/Pipeline.Functions, dotnet-isolated 10.0),
// Entra ID in front of the dashboard and HTTP API. Every connection is identity-based (user-assigned identity), so no keys live in settings.
param location string
param namePrefix string
param tags object
param identityId string
param identityClientId string
param hostStorageBlobEndpoint string
param hostStorageQueueEndpoint string
param hostStorageTableEndpoint string
param deploymentContainer string
param dataBlobEndpoint string
param serviceBusNamespace string
@description('Queue name per job kind, e.g. { translate: "jobs-translate", ... }.')
param queues object
@description('Application Insights component (same resource group); its connection string is read here, never passed around.')
param appInsightsName string
@description('NCRONTAB (6 fields) for ScheduleAugmentation.')
param augmentationSchedule string
@description('Blob (container/path) describing the augmentation batches.')
param augmentationConfigBlob string
@description('Client id of the Entra ID app registration that fronts the app (App Service authentication).')
param authClientId string
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100


resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: '${namePrefix}-plan'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

// Connection settings read by the Functions host and the worker's blob extension (trigger bindings) and by the app's
// configuration (Pipeline__* -> Pipeline:* sections, bound to options); see docs/deploy.md for the mapping.
// Flex Consumption takes the runtime from functionAppConfig.runtime: no FUNCTIONS_WORKER_RUNTIME setting.
var identitySettings = [
  { name: 'AzureWebJobsStorage__blobServiceUri', value: hostStorageBlobEndpoint }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: hostStorageQueueEndpoint }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: hostStorageTableEndpoint }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'PipelineStorage__blobServiceUri', value: dataBlobEndpoint }
  { name: 'PipelineStorage__credential', value: 'managedidentity' }
  { name: 'PipelineStorage__clientId', value: identityClientId }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
]
var pipelineSettings = [
  // Storage and queue settings as infra/Pipeline.Infra/InfraFactory reads them (shared with the worker).
  { name: 'Pipeline__Storage__Kind', value: 'azure' }
  { name: 'Pipeline__Storage__ServiceUri', value: dataBlobEndpoint }
  { name: 'Pipeline__Storage__ManagedIdentityClientId', value: identityClientId }
  { name: 'Pipeline__Queue__Kind', value: 'servicebus' }
  { name: 'Pipeline__Queue__FullyQualifiedNamespace', value: serviceBusNamespace }
  { name: 'Pipeline__Queue__ManagedIdentityClientId', value: identityClientId }
  { name: 'Pipeline__Queues__Translate', value: queues.translate }
  { name: 'Pipeline__Queues__Project', value: queues.project }
  { name: 'Pipeline__Queues__Augment', value: queues.augment }
  { name: 'Pipeline__Augmentation__ConfigBlob', value: augmentationConfigBlob }
  { name: 'Pipeline__Sas__UseUserDelegationKey', value: 'true' }
  // App Service authentication validates Entra tokens in front of the app; the app checks the principal header it sets.
  { name: 'Pipeline__Http__Auth', value: 'EasyAuth' }
  { name: 'AugmentationSchedule', value: augmentationSchedule }
]

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: '${namePrefix}-func'
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(identitySettings, pipelineSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorageBlobEndpoint}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    }
  }
}

// Deployments go through the identity-authenticated package container, never FTP or basic-auth SCM.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// App Service authentication (Easy Auth) with Entra ID: the dashboard and the HTTP API require a signed-in user or an
// app token for this registration. Only the blob extension webhook (called by Event Grid with the system key) and the
// host's health ping are excluded.
resource auth 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: ['/runtime/webhooks/blobs', '/admin/host/ping']
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: { convention: 'NoProxy' }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}', authClientId]
        }
      }
    }
    login: {
      tokenStore: { enabled: false }
    }
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName

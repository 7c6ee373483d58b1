// Container Apps environment with a serverless GPU workload profile and one scale-to-zero worker app per job queue.
// KEDA's azure-servicebus rule authenticates with the worker's user-assigned identity (no connection string).
param location string
param namePrefix string
param tags object
param logAnalyticsWorkspaceName string
@allowed(['T4', 'A100'])
param gpuProfile string
@minValue(1)
@maxValue(100)
param maxReplicas int
param identityId string
param identityClientId string
param registryLoginServer string
param image string
@description('Queue name per job kind, e.g. { translate: "jobs-translate", ... }.')
param queues object
param serviceBusName string
param serviceBusNamespace string
param dataBlobEndpoint string
@description('The queues\' max delivery count; the worker marks a job failed on the attempt that reaches it.')
param maxDeliveryCount int
@description('Application Insights component (same resource group); its connection string is read here, never passed around.')
param appInsightsName string
@description('Seconds a replica stays after the queue is empty (scale to zero afterwards).')
@minValue(60)
param cooldownSeconds int = 600

// Sizes are fixed per serverless GPU profile; a replica must request exactly them.

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var profiles = {
  T4: { type: 'Consumption-GPU-NC8as-T4', cpu: 8, memory: '56Gi' }
  A100: { type: 'Consumption-GPU-NC24-A100', cpu: 24, memory: '220Gi' }
}
var gpu = profiles[gpuProfile]
var gpuProfileName = 'gpu'

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    // GPU profiles can only be declared when the environment is created.
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: gpuProfileName, workloadProfileType: gpu.type }
    ]
    zoneRedundant: false
  }
}

// The worker (`pipeline worker`, the image's entrypoint) is a long-running receive loop, so it runs as a
// scale-to-zero app: KEDA starts replicas while the queue has messages and removes them when it is empty.
resource workers 'Microsoft.App/containerApps@2025-07-01' = [
  for kind in items(queues): {
    name: '${namePrefix}-${kind.key}'
    location: location
    tags: tags
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: { '${identityId}': {} }
    }
    properties: {
      environmentId: environment.id
      workloadProfileName: gpuProfileName
      configuration: {
        activeRevisionsMode: 'Single'
        // No ingress: the worker only talks outward (Service Bus, Storage).
        registries: [
          { server: registryLoginServer, identity: identityId }
        ]
      }
      template: {
        containers: [
          {
            name: 'worker'
            image: image
            resources: { cpu: gpu.cpu, memory: gpu.memory }
            env: [
              { name: 'AZURE_CLIENT_ID', value: identityClientId }
              { name: 'Pipeline__Storage__Kind', value: 'azure' }
              { name: 'Pipeline__Storage__ServiceUri', value: dataBlobEndpoint }
              { name: 'Pipeline__Storage__ManagedIdentityClientId', value: identityClientId }
              { name: 'Pipeline__Queue__Kind', value: 'servicebus' }
              { name: 'Pipeline__Queue__FullyQualifiedNamespace', value: serviceBusNamespace }
              { name: 'Pipeline__Queue__QueueName', value: kind.value }
              { name: 'Pipeline__Queue__ManagedIdentityClientId', value: identityClientId }
              { name: 'Pipeline__Device', value: 'cuda' }
              { name: 'Pipeline__MaxDeliveryCount', value: string(maxDeliveryCount) }
              { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
              { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
            ]
          }
        ]
        scale: {
          minReplicas: 0
          maxReplicas: maxReplicas
          pollingInterval: 30
          // Keep a warm replica a while after the queue drains: model load dominates short jobs.
          cooldownPeriod: cooldownSeconds
          rules: [
            {
              name: 'servicebus-${kind.key}'
              custom: {
                type: 'azure-servicebus'
                identity: identityId
                metadata: {
                  namespace: serviceBusName
                  queueName: kind.value
                  messageCount: '1'
                }
              }
            }
          ]
        }
      }
    }
  }
]

output environmentName string = environment.name
output workerNames array = [for (kind, i) in items(queues): workers[i].name]

// Container Apps environment with a serverless GPU workload profile and one event-driven job per job queue.
// KEDA's azure-servicebus rule authenticates with the worker's user-assigned identity (no connection string):
// one queued message starts one execution, which receives exactly that job, settles it and exits.
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
@description('Application Insights component (same resource group); its connection string is read here, never passed around.')
param appInsightsName string
@description('Longest time one job may run before the replica is stopped and Service Bus redelivers it.')
@minValue(300)
param replicaTimeoutSeconds int = 3600

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

resource jobs 'Microsoft.App/jobs@2025-07-01' = [
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
        triggerType: 'Event'
        replicaTimeout: replicaTimeoutSeconds
        // Retries belong to Service Bus (maxDeliveryCount, then the DLQ), not to the platform.
        replicaRetryLimit: 0
        registries: [
          { server: registryLoginServer, identity: identityId }
        ]
        eventTriggerConfig: {
          parallelism: 1
          replicaCompletionCount: 1
          scale: {
            minExecutions: 0
            maxExecutions: maxReplicas
            pollingInterval: 30
            rules: [
              {
                name: 'servicebus-${kind.key}'
                type: 'azure-servicebus'
                identity: identityId
                metadata: {
                  namespace: serviceBusName
                  queueName: kind.value
                  messageCount: '1'
                }
              }
            ]
          }
        }
      }
      template: {
        containers: [
          {
            name: 'worker'
            image: image
            args: ['worker', '--queue', kind.value, '--max-jobs', '1']
            resources: { cpu: gpu.cpu, memory: gpu.memory }
            env: [
              { name: 'AZURE_CLIENT_ID', value: identityClientId }
              { name: 'Pipeline__Storage__BlobServiceUri', value: dataBlobEndpoint }
              { name: 'Pipeline__ServiceBus__FullyQualifiedNamespace', value: serviceBusNamespace }
              { name: 'Pipeline__Worker__Queue', value: kind.value }
              { name: 'Pipeline__Worker__JobKind', value: kind.key }
              { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
              { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
            ]
          }
        ]
      }
    }
  }
]

output environmentName string = environment.name
output jobNames array = [for (kind, i) in items(queues): jobs[i].name]

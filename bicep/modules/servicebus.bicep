// Service Bus namespace with Entra-only auth and one queue per job kind. Duplicate detection keyed by our
// deterministic MessageId turns Event Grid redeliveries and timer replays into no-ops; poison jobs land in the DLQ
// after maxDeliveryCount attempts.
param location string
param name string
param tags object
@description('Queue names, one per job kind.')
param queueNames array
@description('Per-queue grants: [{ principalId, roleDefinitionId, queue }].')
param queueGrants array = []
@description('Delivery attempts before dead-lettering; equal to Pipeline.Infra.Queue.QueueDefaults.MaxDeliveryCount (a deployment test compares them).')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 5
@description('Peek-lock duration (ISO 8601, at most PT5M); workers renew it during long GPU work.')
param lockDuration string = 'PT5M'
@description('How long a MessageId is remembered for duplicate detection (ISO 8601, 20 s to 7 days).')
param duplicateDetectionWindow string = 'P1D'
@description('Unprocessed jobs expire (and are dead-lettered) after this time.')
param messageTimeToLive string = 'P7D'

resource namespace 'Microsoft.ServiceBus/namespaces@2026-01-01' = {
  name: name
  location: location
  tags: tags
  // Standard is the cheapest tier with duplicate detection.
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' = [
  for q in queueNames: {
    parent: namespace
    name: q
    properties: {
      lockDuration: lockDuration
      maxDeliveryCount: maxDeliveryCount
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
      defaultMessageTimeToLive: messageTimeToLive
      deadLetteringOnMessageExpiration: true
      enableBatchedOperations: true
      requiresSession: false
      maxSizeInMegabytes: 1024
    }
  }
]

resource grantTargets 'Microsoft.ServiceBus/namespaces/queues@2026-01-01' existing = [
  for g in queueGrants: {
    parent: namespace
    name: g.queue
  }
]

resource queueRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (g, i) in queueGrants: {
    name: guid(namespace.id, g.queue, g.principalId, g.roleDefinitionId)
    scope: grantTargets[i]
    properties: {
      principalId: g.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.roleDefinitionId)
    }
    dependsOn: [queues]
  }
]

output name string = namespace.name
output id string = namespace.id
// serviceBusEndpoint is 'https://<ns>.servicebus.windows.net:443/'; taking the host keeps sovereign clouds right.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]

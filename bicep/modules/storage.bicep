// A storage account locked down for identity-only access: no anonymous blobs, no shared keys (so no account-key
// SAS either; SAS links are signed with a user-delegation key), TLS 1.2, HTTPS only. Role assignments are scoped to
// the container (or to the account where the action is account-level, e.g. generating user-delegation keys).
param location string
param name string
param tags object
@description('Blob containers to create (all private).')
param containers array
@description('Container-scoped grants: [{ principalId, roleDefinitionId, container }].')
param containerGrants array = []
@description('Account-scoped grants: [{ principalId, roleDefinitionId }].')
param accountGrants array = []
@description('Days a deleted blob stays recoverable (uploads are never lost).')
@minValue(1)
param softDeleteDays int = 7

resource account 'Microsoft.Storage/storageAccounts@2025-08-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-08-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: softDeleteDays }
    containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-08-01' = [
  for c in containers: {
    parent: blobService
    name: c
    properties: { publicAccess: 'None' }
  }
]

// Existing references give each grant a resource to scope to (a loop resource cannot be indexed by name).
resource grantTargets 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-08-01' existing = [
  for g in containerGrants: {
    parent: blobService
    name: g.container
  }
]

resource containerRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (g, i) in containerGrants: {
    name: guid(account.id, g.container, g.principalId, g.roleDefinitionId)
    scope: grantTargets[i]
    properties: {
      principalId: g.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.roleDefinitionId)
    }
    dependsOn: [blobContainers]
  }
]

resource accountRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for g in accountGrants: {
    name: guid(account.id, g.principalId, g.roleDefinitionId)
    scope: account
    properties: {
      principalId: g.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', g.roleDefinitionId)
    }
  }
]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table

// Container registry for the worker image. No admin user, no anonymous pull: the worker pulls with its identity.
param location string
param name string
param tags object
@allowed(['Basic', 'Standard', 'Premium'])
@description('Premium enables artifact streaming, which cuts GPU cold starts on multi-GB CUDA images.')
param sku string = 'Standard'
@description('Principal ids granted AcrPull on this registry only.')
param pullPrincipalIds array

var acrPull = '7f951dba-4ed6-4be2-a6f1-2a2c6ea6b63e'

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: sku }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource pullers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in pullPrincipalIds: {
    name: guid(registry.id, principalId, acrPull)
    scope: registry
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    }
  }
]

output name string = registry.name
output id string = registry.id
output loginServer string = registry.properties.loginServer

// The GAN image pipeline in one resource group: storage (blob layout), Service Bus job queues, the Functions app
// (.NET isolated worker, dotnet-isolated 10.0) on Flex Consumption (upload validation, scheduling, HTTP API,
// dashboard), GPU workers as scale-to-zero Container Apps, a registry and monitoring. Identity-only: no keys, no
// connection strings, no public blobs. Deploy: docs/deploy.md (two passes: infrastructure, then the Event Grid
// subscription and the workers once the app is published and the worker image is in the registry).
targetScope = 'resourceGroup'

@description('Azure region. Serverless GPUs exist in a few regions only (e.g. westus3, australiaeast, swedencentral).')
param location string = resourceGroup().location

@description('Short prefix for resource names.')
@minLength(2)
@maxLength(10)
param namePrefix string = 'gan'

@description('Serverless GPU for the workers: T4 (NC8as, 16 GB) or A100 (NC24, 80 GB).')
@allowed(['T4', 'A100'])
param gpuProfile string = 'T4'

@description('Most worker replicas per job queue.')
@minValue(1)
@maxValue(100)
param maxReplicas int = 4

@description('NCRONTAB schedule (6 fields, UTC) for ScheduleAugmentation.')
param augmentationSchedule string = '0 0 3 * * *'

@description('Client id of the Entra ID app registration protecting the Function App (dashboard and HTTP API).')
@minLength(36)
@maxLength(36)
param authClientId string

@description('Worker image repository:tag inside the registry this template creates.')
param workerImage string = 'pipeline-worker:latest'

@description('Second pass: create the GPU worker apps (the image must already be in the registry).')
param deployWorkers bool = false

@description('Second pass: subscribe ValidateUpload to BlobCreated events (the Functions app must already be published).')
param deployEventSubscription bool = false

@description('Delivery attempts before a job is dead-lettered (code default: Pipeline.Infra.Queue.QueueDefaults.MaxDeliveryCount).')
@minValue(1)
@maxValue(20)
param maxDeliveryCount int = 5

@allowed(['Basic', 'Standard', 'Premium'])
param registrySku string = 'Standard'

param tags object = { app: 'gan-pipeline' }

var suffix = uniqueString(resourceGroup().id)
var compactPrefix = toLower(replace(namePrefix, '-', ''))

// The blob layout of infra/Pipeline.Infra (Contracts/BlobLayout.Areas): one container per area, plus Event Grid's.
var containers = {
  uploads: 'uploads'
  results: 'results'
  rejected: 'rejected'
  status: 'status'
  datasets: 'datasets'
  metrics: 'metrics'
  models: 'models'
  eventsDeadLetter: 'eventgrid-deadletter'
}
var queues = {
  translate: 'jobs-translate'
  project: 'jobs-project'
  augment: 'jobs-augment'
}
var deploymentContainer = 'app-package'

var roles = {
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  blobContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  blobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  queueContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  busSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  busReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
}

// One identity per component, so each gets only what it does.
resource functionsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: '${namePrefix}-id-functions'
  location: location
  tags: tags
}

resource workerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: '${namePrefix}-id-worker'
  location: location
  tags: tags
}

resource eventsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: '${namePrefix}-id-events'
  location: location
  tags: tags
}

var fn = functionsIdentity.properties.principalId
var wk = workerIdentity.properties.principalId

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    telemetryWriterPrincipalIds: [fn, wk]
  }
}

// Data: functions write status/rejected (and uploads via submit), read results (to sign links), metrics and datasets
// (gallery, augmentation schedule); workers read inputs and models, write results, status, metrics and datasets;
// Event Grid writes only undeliverable events.
module data 'modules/storage.bicep' = {
  name: 'data-storage'
  params: {
    location: location
    name: take('st${compactPrefix}data${suffix}', 24)
    tags: tags
    containers: map(items(containers), c => c.value)
    containerGrants: [
      { principalId: fn, roleDefinitionId: roles.blobContributor, container: containers.uploads }
      { principalId: fn, roleDefinitionId: roles.blobContributor, container: containers.status }
      { principalId: fn, roleDefinitionId: roles.blobContributor, container: containers.rejected }
      { principalId: fn, roleDefinitionId: roles.blobReader, container: containers.results }
      { principalId: fn, roleDefinitionId: roles.blobReader, container: containers.metrics }
      { principalId: fn, roleDefinitionId: roles.blobReader, container: containers.datasets }
      { principalId: wk, roleDefinitionId: roles.blobReader, container: containers.uploads }
      { principalId: wk, roleDefinitionId: roles.blobReader, container: containers.models }
      { principalId: wk, roleDefinitionId: roles.blobContributor, container: containers.datasets }
      { principalId: wk, roleDefinitionId: roles.blobContributor, container: containers.status }
      { principalId: wk, roleDefinitionId: roles.blobContributor, container: containers.results }
      { principalId: wk, roleDefinitionId: roles.blobContributor, container: containers.metrics }
      {
        principalId: eventsIdentity.properties.principalId
        roleDefinitionId: roles.blobContributor
        container: containers.eventsDeadLetter
      }
    ]
    // User-delegation keys are an account-level action; the Delegator role grants nothing else.
    accountGrants: [
      { principalId: fn, roleDefinitionId: roles.blobDelegator }
    ]
  }
}

// Functions host storage (triggers' bookkeeping, keys, the deployment package) is separate from the data account,
// so the Blob Data Owner role the host needs never reaches user data.
module hostStorage 'modules/storage.bicep' = {
  name: 'host-storage'
  params: {
    location: location
    name: take('st${compactPrefix}host${suffix}', 24)
    tags: tags
    containers: [deploymentContainer]
    accountGrants: [
      { principalId: fn, roleDefinitionId: roles.blobOwner }
      { principalId: fn, roleDefinitionId: roles.queueContributor }
    ]
  }
}

module bus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    location: location
    name: '${namePrefix}-bus-${suffix}'
    tags: tags
    queueNames: map(items(queues), q => q.value)
    maxDeliveryCount: maxDeliveryCount
    queueGrants: concat(
      map(items(queues), q => { principalId: fn, roleDefinitionId: roles.busSender, queue: q.value }),
      // Receiver on the queue covers both consuming and KEDA reading the queue's message count.
      map(items(queues), q => { principalId: wk, roleDefinitionId: roles.busReceiver, queue: q.value })
    )
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    location: location
    name: take('cr${compactPrefix}${suffix}', 50)
    tags: tags
    sku: registrySku
    pullPrincipalIds: [wk]
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    namePrefix: '${namePrefix}-${suffix}'
    tags: tags
    identityId: functionsIdentity.id
    identityClientId: functionsIdentity.properties.clientId
    hostStorageBlobEndpoint: hostStorage.outputs.blobEndpoint
    hostStorageQueueEndpoint: hostStorage.outputs.queueEndpoint
    hostStorageTableEndpoint: hostStorage.outputs.tableEndpoint
    deploymentContainer: deploymentContainer
    dataBlobEndpoint: data.outputs.blobEndpoint
    serviceBusNamespace: bus.outputs.fullyQualifiedNamespace
    queues: queues
    appInsightsName: monitoring.outputs.appInsightsName
    augmentationSchedule: augmentationSchedule
    augmentationConfigBlob: '${containers.datasets}/augmentation-schedule.json'
    authClientId: authClientId
  }
}

module events 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    storageAccountName: data.outputs.name
    functionAppName: functionApp.outputs.name
    // The blob trigger of functions/Pipeline.Functions: [Function("ValidateUpload")], [BlobTrigger("uploads/{name}")].
    functionName: 'ValidateUpload'
    uploadsContainer: containers.uploads
    deadLetterContainer: containers.eventsDeadLetter
    identityId: eventsIdentity.id
    deployEventSubscription: deployEventSubscription
  }
}

module workers 'modules/workers.bicep' = if (deployWorkers) {
  name: 'workers'
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    logAnalyticsWorkspaceName: monitoring.outputs.workspaceName
    gpuProfile: gpuProfile
    maxReplicas: maxReplicas
    identityId: workerIdentity.id
    identityClientId: workerIdentity.properties.clientId
    registryLoginServer: registry.outputs.loginServer
    image: '${registry.outputs.loginServer}/${workerImage}'
    queues: queues
    serviceBusName: bus.outputs.name
    serviceBusNamespace: bus.outputs.fullyQualifiedNamespace
    dataBlobEndpoint: data.outputs.blobEndpoint
    maxDeliveryCount: maxDeliveryCount
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

output storageAccountName string = data.outputs.name
output blobServiceUri string = data.outputs.blobEndpoint
output containers object = containers
output serviceBusNamespace string = bus.outputs.fullyQualifiedNamespace
output queues object = queues
output functionAppName string = functionApp.outputs.name
output functionAppUrl string = 'https://${functionApp.outputs.defaultHostName}'
output functionsPackageContainer string = '${hostStorage.outputs.blobEndpoint}${deploymentContainer}'
output registryLoginServer string = registry.outputs.loginServer
output functionsIdentityClientId string = functionsIdentity.properties.clientId
output workerIdentityClientId string = workerIdentity.properties.clientId
output appInsightsName string = monitoring.outputs.appInsightsName
output containerAppsEnvironment string = deployWorkers ? workers!.outputs.environmentName : ''
output workerApps array = deployWorkers ? workers!.outputs.workerNames : []

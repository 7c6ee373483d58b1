// Example parameters; copy and set authClientId to your Entra ID app registration's client id.
using 'main.bicep'

param namePrefix = 'gan'
param gpuProfile = 'T4'
param maxReplicas = 4
param augmentationSchedule = '0 0 3 * * *'
param authClientId = '00000000-0000-0000-0000-000000000000'
param deployWorkers = false
param deployEventSubscription = false

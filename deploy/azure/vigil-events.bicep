// Vigil change events for one Azure subscription: Azure Resource Manager
// publishes every successful write, delete and action in the subscription
// to an Event Grid system topic; an event subscription delivers them to a
// Storage Queue that `vigil serve` reads. Deploy it into a resource group
// of the watched subscription:
//
//   az deployment group create -g rg-vigil -f vigil-events.bicep \
//     -p storageAccountName=stvigilevents01 vigilPrincipalId=<object id>
//
// deploy/azure/vigil-events.json is the same template as ARM JSON.
targetScope = 'resourceGroup'

@description('Storage account holding the event queues: 3 to 24 lower-case letters and digits, unique in Azure.')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Location of the storage account.')
param location string = resourceGroup().location

@description('Queue Event Grid delivers to and Vigil reads.')
param queueName string = 'vigil-events'

@description('Queue where Vigil keeps events it can never handle, with the reason.')
param poisonQueueName string = '${queueName}-poison'

@description('Object id of the principal Vigil runs as (managed identity or service principal); empty assigns no role to it.')
param vigilPrincipalId string = ''

@description('Principal type of vigilPrincipalId.')
@allowed(['ServicePrincipal', 'User', 'Group'])
param vigilPrincipalType string = 'ServicePrincipal'

@description('Role of Vigil on the event queue. Processor receives and deletes; Contributor can also release a message for an immediate retry.')
@allowed(['Storage Queue Data Contributor', 'Storage Queue Data Message Processor'])
param vigilQueueRole string = 'Storage Queue Data Contributor'

@description('Event types delivered. ResourceActionSuccess carries POSTs such as regenerateKey; drop it to receive fewer events.')
param eventTypes array = [
  'Microsoft.Resources.ResourceWriteSuccess'
  'Microsoft.Resources.ResourceDeleteSuccess'
  'Microsoft.Resources.ResourceActionSuccess'
]

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  'Storage Queue Data Message Processor': '8a0f0c08-91a1-4084-bc3d-661d67233fed'
  'Storage Queue Data Message Sender': 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Event Grid and Vigil both authenticate with Microsoft Entra ID.
    allowSharedKeyAccess: false
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: queueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: poisonQueueName
}

// The subscription's system topic: ARM events of every resource group.
resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'vigil-${subscription().subscriptionId}'
  location: 'global'
  identity: { type: 'SystemAssigned' }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

// Event Grid writes to the queue as the topic's managed identity.
resource topicSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: queue
  name: guid(queue.id, topic.id, roleIds['Storage Queue Data Message Sender'])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds['Storage Queue Data Message Sender'])
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource eventSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'vigil-to-queue'
  dependsOn: [topicSends]
  properties: {
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'StorageQueue'
        properties: {
          resourceId: account.id
          queueName: queueName
          // Kept a week: Vigil may be down for a while without losing
          // changes (the scheduled rescan covers a longer outage).
          queueMessageTimeToLiveInSeconds: 604800
        }
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: eventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

resource vigilReads 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(vigilPrincipalId)) {
  scope: queue
  name: guid(queue.id, vigilPrincipalId, roleIds[vigilQueueRole])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[vigilQueueRole])
    principalId: vigilPrincipalId
    principalType: vigilPrincipalType
  }
}

resource vigilPoisons 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(vigilPrincipalId)) {
  scope: poisonQueue
  name: guid(poisonQueue.id, vigilPrincipalId, roleIds['Storage Queue Data Message Sender'])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds['Storage Queue Data Message Sender'])
    principalId: vigilPrincipalId
    principalType: vigilPrincipalType
  }
}

@description('Queue service URL Vigil reads from.')
output queueServiceUrl string = account.properties.primaryEndpoints.queue

output queue string = queueName
output poisonQueue string = poisonQueueName

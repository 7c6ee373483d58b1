using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Storage;

/// <summary>
/// Options of <see cref="AzureBlobStore"/>. Set either <see cref="ConnectionString"/> (Azurite, SAS, account key)
/// or <see cref="ServiceUri"/> (Entra ID through DefaultAzureCredential: managed identity in Azure, developer login locally).
/// App settings: <c>Pipeline__Storage__ConnectionString</c>, <c>Pipeline__Storage__ServiceUri</c>,
/// <c>Pipeline__Storage__ManagedIdentityClientId</c>, <c>Pipeline__Storage__ContainerPrefix</c>.
/// </summary>
public sealed record AzureBlobStoreOptions
{
    /// <summary>Storage connection string (e.g. "UseDevelopmentStorage=true" or Azurite's explicit one).</summary>
    public string? ConnectionString { get; init; }
    /// <summary>Blob service endpoint, e.g. https://&lt;account&gt;.blob.core.windows.net.</summary>
    public Uri? ServiceUri { get; init; }
    /// <summary>Client id of a user-assigned managed identity (null = system identity / developer credentials).</summary>
    public string? ManagedIdentityClientId { get; init; }
    /// <summary>Prepended to every area's container name (e.g. "dev-" gives "dev-uploads"), to share an account.</summary>
    public string ContainerPrefix { get; init; } = "";
    /// <summary>Create a container on first write when it is missing (off in Azure, where Bicep creates them and the identity may lack the right).</summary>
    public bool CreateContainers { get; init; } = true;
}

/// <summary>
/// <see cref="IBlobStore"/> on Azure.Storage.Blobs: the area of a path is the container, the rest the blob name.
/// Conditions map to If-Match / If-None-Match; 412 and 409 BlobAlreadyExists become <see cref="BlobConditionFailedException"/>.
/// </summary>
public sealed class AzureBlobStore : IBlobStore
{
    private readonly BlobServiceClient _service;
    private readonly AzureBlobStoreOptions _options;
    private readonly ConcurrentDictionary<string, bool> _ensured = new(StringComparer.Ordinal);

    /// <summary>Creates the store from options.</summary>
    public AzureBlobStore(AzureBlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
            _service = new BlobServiceClient(options.ConnectionString);
        else if (options.ServiceUri is not null)
            _service = new BlobServiceClient(options.ServiceUri, new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ManagedIdentityClientId }));
        else
            throw new ArgumentException("AzureBlobStoreOptions needs ConnectionString or ServiceUri (set Pipeline__Storage__ConnectionString or Pipeline__Storage__ServiceUri).", nameof(options));
    }

    /// <summary>Creates the store over an existing client (tests, custom pipelines).</summary>
    public AzureBlobStore(BlobServiceClient service, AzureBlobStoreOptions? options = null)
    {
        _service = service ?? throw new ArgumentNullException(nameof(service));
        _options = options ?? new AzureBlobStoreOptions();
    }

    /// <inheritdoc />
    public async Task<BlobDownload?> GetAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        var blob = Blob(path);
        try
        {
            var r = await blob.DownloadStreamingAsync(new BlobDownloadOptions { Conditions = ToAzure(conditions) }, cancellationToken);
            // If-None-Match on the current ETag: the SDK returns 304 as a response without a body, not as an exception.
            if (r.GetRawResponse().Status == 304) throw new BlobConditionFailedException(path, "not modified (If-None-Match).");
            var d = r.Value.Details;
            var props = new BlobProperties
            {
                Path = path,
                ETag = d.ETag.ToString(),
                Length = d.ContentLength,
                ContentType = d.ContentType ?? "application/octet-stream",
                LastModified = d.LastModified,
                Metadata = new Dictionary<string, string>(d.Metadata),
            };
            return new BlobDownload(props, r.Value.Content);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 304)
        {
            throw new BlobConditionFailedException(path, ex.ErrorCode ?? "condition not met", ex);
        }
    }

    /// <inheritdoc />
    public async Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            var p = (await Blob(path).GetPropertiesAsync(cancellationToken: cancellationToken)).Value;
            return new BlobProperties
            {
                Path = path,
                ETag = p.ETag.ToString(),
                Length = p.ContentLength,
                ContentType = p.ContentType ?? "application/octet-stream",
                LastModified = p.LastModified,
                Metadata = new Dictionary<string, string>(p.Metadata),
            };
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public async Task<BlobProperties> PutAsync(string path, Stream content, BlobPutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var blob = Blob(path);
        await EnsureContainerAsync(blob.BlobContainerName, cancellationToken);
        var upload = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = options?.ContentType ?? "application/octet-stream" },
            Metadata = options?.Metadata?.ToDictionary(kv => kv.Key, kv => kv.Value),
            Conditions = ToAzure(options?.Conditions),
        };
        try
        {
            await blob.UploadAsync(content, upload, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 412 || (ex.Status == 409 && ex.ErrorCode == "BlobAlreadyExists"))
        {
            throw new BlobConditionFailedException(path, ex.ErrorCode ?? "condition not met", ex);
        }
        return await GetPropertiesAsync(path, cancellationToken)
            ?? throw new IOException($"Blob '{path}' vanished right after it was written.");
    }

    /// <inheritdoc />
    public async Task<BlobProperties> SetMetadataAsync(string path, IReadOnlyDictionary<string, string> metadata, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        try
        {
            await Blob(path).SetMetadataAsync(metadata.ToDictionary(kv => kv.Key, kv => kv.Value), ToAzure(conditions), cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new FileNotFoundException($"Blob '{path}' does not exist.", path, ex);
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new BlobConditionFailedException(path, ex.ErrorCode ?? "condition not met", ex);
        }
        return (await GetPropertiesAsync(path, cancellationToken))!;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BlobProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (area, namePrefix) = BlobLayout.SplitPrefix(prefix);
        var container = _service.GetBlobContainerClient(_options.ContainerPrefix + area);
        var pages = container.GetBlobsAsync(new GetBlobsOptions { Prefix = namePrefix.Length == 0 ? null : namePrefix, Traits = BlobTraits.Metadata }, cancellationToken);
        await using var e = pages.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await e.MoveNextAsync()) yield break;
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                yield break; // container not created yet: nothing to list
            }
            var item = e.Current;
            yield return new BlobProperties
            {
                Path = area + "/" + item.Name,
                ETag = item.Properties.ETag?.ToString() ?? "",
                Length = item.Properties.ContentLength ?? 0,
                ContentType = item.Properties.ContentType ?? "application/octet-stream",
                LastModified = item.Properties.LastModified ?? default,
                Metadata = new Dictionary<string, string>(item.Metadata ?? new Dictionary<string, string>()),
            };
        }
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        try
        {
            var r = await Blob(path).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, ToAzure(conditions), cancellationToken);
            if (!r.Value && conditions?.IfMatch is not null)
                throw new BlobConditionFailedException(path, "blob does not exist (If-Match).");
            return r.Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new BlobConditionFailedException(path, ex.ErrorCode ?? "condition not met", ex);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            if (conditions?.IfMatch is not null) throw new BlobConditionFailedException(path, "blob does not exist (If-Match).", ex);
            return false;
        }
    }

    private BlobClient Blob(string path)
    {
        var (area, name) = BlobLayout.Split(path);
        return _service.GetBlobContainerClient(_options.ContainerPrefix + area).GetBlobClient(name);
    }

    private async Task EnsureContainerAsync(string container, CancellationToken ct)
    {
        if (!_options.CreateContainers || _ensured.ContainsKey(container)) return;
        await _service.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: ct);
        _ensured[container] = true;
    }

    private static BlobRequestConditions? ToAzure(BlobConditions? c) => c is null ? null : new BlobRequestConditions
    {
        IfMatch = c.IfMatch is null ? null : c.IfMatch == "*" ? ETag.All : new ETag(c.IfMatch),
        IfNoneMatch = c.IfNoneMatch is null ? null : c.IfNoneMatch == "*" ? ETag.All : new ETag(c.IfNoneMatch),
    };
}

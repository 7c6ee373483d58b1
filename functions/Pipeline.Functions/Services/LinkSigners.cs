using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using Pipeline.Infra.Contracts;

namespace Pipeline.Functions.Services;

/// <summary>Hands out short-lived, read-only links to result blobs.</summary>
public interface ILinkSigner
{
    /// <summary>A read-only link valid for <paramref name="lifetime"/>, or null when the store cannot serve links (local files).</summary>
    Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken);
}

/// <summary>No links (file-system store): callers get blob paths only.</summary>
public sealed class NoLinkSigner : ILinkSigner
{
    /// <inheritdoc />
    public Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken) => Task.FromResult<Uri?>(null);
}

/// <summary>
/// SAS signed with a user-delegation key obtained with the app's Entra identity (Storage Blob Delegator role): no
/// account key exists anywhere (the bicep disables shared keys). The key is cached and renewed before it expires.
/// </summary>
public sealed class UserDelegationLinkSigner(BlobServiceClient service, TimeProvider time, string containerPrefix = "") : ILinkSigner
{
    private static readonly TimeSpan KeyLifetime = TimeSpan.FromHours(2);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private UserDelegationKey? _key;

    /// <inheritdoc />
    public async Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var (area, blob) = BlobLayout.Split(path);
        var container = containerPrefix + area;
        var now = time.GetUtcNow();
        var key = await KeyAsync(now, lifetime, cancellationToken);
        var sas = new BlobSasBuilder(BlobSasPermissions.Read, now + lifetime)
        {
            BlobContainerName = container,
            BlobName = blob,
            Resource = "b",
            StartsOn = now.AddMinutes(-5), // clock skew between us and storage
            Protocol = SasProtocol.Https,
        };
        var uri = new BlobUriBuilder(service.GetBlobContainerClient(container).GetBlobClient(blob).Uri)
        {
            Sas = sas.ToSasQueryParameters(key, service.AccountName),
        };
        return uri.ToUri();
    }

    private async Task<UserDelegationKey> KeyAsync(DateTimeOffset now, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_key is null || _key.SignedExpiresOn < now + lifetime + TimeSpan.FromMinutes(5))
                _key = (await service.GetUserDelegationKeyAsync(now.AddMinutes(-5), now + KeyLifetime, cancellationToken)).Value;
            return _key;
        }
        finally
        {
            _gate.Release();
        }
    }
}

/// <summary>
/// Local development against Azurite only (which cannot issue user-delegation keys without OAuth): a service SAS
/// from the emulator's well-known account key. Refuses anything but the emulator.
/// </summary>
public sealed class EmulatorLinkSigner : ILinkSigner
{
    private readonly BlobServiceClient _service;
    private readonly TimeProvider _time;
    private readonly string _prefix;

    /// <summary>Creates the signer for a connection string that must point at 127.0.0.1/localhost.</summary>
    public EmulatorLinkSigner(BlobServiceClient service, TimeProvider time, string containerPrefix = "")
    {
        _prefix = containerPrefix;
        if (!service.Uri.IsLoopback)
            throw new InvalidOperationException("Account-key SAS links are for the local emulator only; in Azure results are signed with a user-delegation key.");
        _service = service;
        _time = time;
    }

    /// <inheritdoc />
    public Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var (area, blob) = BlobLayout.Split(path);
        var client = _service.GetBlobContainerClient(_prefix + area).GetBlobClient(blob);
        return Task.FromResult<Uri?>(client.GenerateSasUri(BlobSasPermissions.Read, _time.GetUtcNow() + lifetime));
    }
}

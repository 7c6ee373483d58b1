using Amqp;
using Amqp.Framing;
using Amqp.Types;
using Azure.Core;
using Azure.Identity;

namespace Pipeline.Infra.Queue;

/// <summary>
/// <see cref="IJobQueue"/> on Azure Service Bus over AMQP 1.0 (AMQPNetLite), because Azure.Messaging.ServiceBus is not
/// available to us and the Functions output binding cannot set a MessageId. Peek-lock receive; complete = accepted,
/// abandon = modified(delivery-failed), dead-letter = rejected(com.microsoft:dead-letter + reason/description);
/// renew-lock and settle-by-lock-token over "&lt;queue&gt;/$management"; SAS (SASL PLAIN) or Entra ID (CBS jwt, refreshed).
/// A dropped connection or detached link is replaced on the next call after an exponential backoff; sends are retried
/// safely because the MessageId makes them idempotent under duplicate detection.
/// </summary>
public sealed class ServiceBusJobQueue : IJobQueue
{
    private readonly ServiceBusOptions _options;
    private readonly Address _address;
    private readonly string _entity;
    private readonly Func<CancellationToken, Task<AccessToken>>? _getToken;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly SemaphoreSlim[] _receiveGates = [new(1, 1), new(1, 1)];
    private AmqpConnectionScope? _scope;
    private int _generation;
    private TimeSpan _backoff;
    private DateTimeOffset _nextAttempt;
    private bool _disposed;

    /// <summary>Creates the client; nothing connects until the first call.</summary>
    public ServiceBusJobQueue(ServiceBusOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _backoff = options.InitialReconnectBackoff;
        var (endpoint, keyName, key, entity) = ParseConnection(options);
        Name = entity;
        _entity = string.Format(System.Globalization.CultureInfo.InvariantCulture, options.AddressFormat, entity);
        var uri = endpoint.Contains("://", StringComparison.Ordinal) ? new Uri(endpoint) : new Uri("amqps://" + endpoint);
        var tls = uri.Scheme is "amqps" or "sb" or "https";
        var port = uri.IsDefaultPort || uri.Port <= 0 ? (tls ? 5671 : 5672) : uri.Port;
        if (keyName is not null && key is not null)
        {
            _address = new Address(uri.Host, port, keyName, key, "/", tls ? "AMQPS" : "AMQP");
        }
        else
        {
            _address = new Address(uri.Host, port, null, null, "/", tls ? "AMQPS" : "AMQP");
            var credential = options.Credential ?? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = options.ManagedIdentityClientId });
            var context = new TokenRequestContext([options.TokenScope]);
            _getToken = ct => credential.GetTokenAsync(context, ct).AsTask();
        }
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Connections opened so far (1 + reconnects), for diagnostics and tests.</summary>
    public int ConnectionsOpened => Volatile.Read(ref _generation);

    /// <inheritdoc />
    public Task SendAsync(QueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (string.IsNullOrEmpty(message.MessageId) || message.MessageId.Length > 128)
            throw new ArgumentException("MessageId must be 1..128 characters (Service Bus limit).", nameof(message));
        // Retrying a send is safe: the broker drops a second copy with the same MessageId.
        return RetryAsync(async scope =>
        {
            var sender = await scope.SenderAsync(_entity, cancellationToken);
            try
            {
                await sender.SendAsync(AmqpMessageMapping.ToAmqp(message), _options.OperationTimeout).WaitAsync(cancellationToken);
            }
            catch (AmqpException ex) when (ex.Error?.Condition?.ToString() is "amqp:rejected" or "amqp:link:message-size-exceeded" or "amqp:invalid-field")
            {
                throw new InvalidOperationException($"Service Bus rejected message '{message.MessageId}': {ex.Error?.Description}", ex);
            }
            return true;
        }, "send", cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, TimeSpan maxWait, SubQueue subQueue = SubQueue.None, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        var gate = _receiveGates[(int)subQueue];
        await gate.WaitAsync(cancellationToken);
        try
        {
            var deadline = _time.GetUtcNow() + maxWait;
            var path = EntityPath(subQueue);
            while (true)
            {
                var result = await RetryAsync(async scope =>
                {
                    var link = await scope.ReceiverAsync(path, subQueue, cancellationToken);
                    var got = new List<ReceivedMessage>();
                    link.SetCredit(maxMessages, false);
                    var left = deadline - _time.GetUtcNow();
                    var wait = left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
                    Message? first;
                    try
                    {
                        // The guard covers a link that dies without completing the pending receive.
                        first = await link.ReceiveAsync(wait).WaitAsync(wait + TimeSpan.FromSeconds(2), cancellationToken);
                    }
                    catch (TimeoutException)
                    {
                        await scope.DropReceiverAsync(subQueue);
                        throw new QueueTransientException($"The receive link on '{path}' stopped answering.");
                    }
                    if (first is null)
                    {
                        if (link.IsClosed || scope.IsClosed) throw new QueueTransientException($"The receive link on '{path}' closed while waiting.");
                        link.SetCredit(0, false); // no prefetch while nobody is asking: locks would tick away in our buffer
                        return got;
                    }
                    got.Add(Convert(first, link, scope, subQueue));
                    while (got.Count < maxMessages)
                    {
                        var more = await link.ReceiveAsync(TimeSpan.FromMilliseconds(20));
                        if (more is null) break;
                        got.Add(Convert(more, link, scope, subQueue));
                    }
                    return got;
                }, "receive", cancellationToken, deadline);
                if (result.Count > 0 || _time.GetUtcNow() >= deadline) return result;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc />
    public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        SettleAsync(message, (link, m) => link.Accept(m), "completed", null, null, cancellationToken);

    /// <inheritdoc />
    public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        SettleAsync(message, (link, m) => link.Modify(m, true, false, null), "abandoned", null, null, cancellationToken);

    /// <inheritdoc />
    public Task DeadLetterAsync(ReceivedMessage message, string reason, string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        reason = Clip(reason);
        description = description is null ? null : Clip(description);
        var error = new Error(new Symbol("com.microsoft:dead-letter")) { Description = description ?? reason, Info = new Fields() };
        error.Info[new Symbol("DeadLetterReason")] = reason;
        if (description is not null) error.Info[new Symbol("DeadLetterErrorDescription")] = description;
        return SettleAsync(message, (link, m) => link.Reject(m, error), "suspended", reason, description, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, CancellationToken cancellationToken = default)
    {
        var handle = HandleOf(message);
        var body = new Map { ["lock-tokens"] = new[] { message.LockToken } };
        var response = await ManagementAsync(message.SubQueue, "com.microsoft:renew-lock", body, handle.LinkName, cancellationToken);
        var expirations = (response.Body as Map)?["expirations"] as DateTime[];
        if (expirations is not { Length: > 0 }) throw new QueueTransientException("renew-lock answered 200 without expirations.");
        message.LockedUntil = new DateTimeOffset(DateTime.SpecifyKind(expirations[0], DateTimeKind.Utc));
        return message.LockedUntil;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        var s = Interlocked.Exchange(ref _scope, null);
        if (s is not null) await s.DisposeAsync();
    }

    // ---- settlement ----

    private async Task SettleAsync(ReceivedMessage message, Action<ReceiverLink, Message> onLink, string status, string? reason, string? description, CancellationToken ct)
    {
        var handle = HandleOf(message);
        if (_time.GetUtcNow() >= message.LockedUntil)
            throw new MessageLockLostException($"The lock on message '{message.MessageId}' expired at {message.LockedUntil:O}; the message will be delivered again.");
        var scope = _scope;
        if (scope is not null && scope.Generation == handle.Generation && !scope.IsClosed && !handle.Link.IsClosed)
        {
            try
            {
                // AMQPNetLite sends this settled and does not wait for the broker (fire and forget); a lost lock therefore shows
                // up as a redelivery, which handlers absorb by being idempotent on the job id.
                onLink(handle.Link, handle.Message);
                return;
            }
            catch (Exception ex) when (ex is AmqpException or ObjectDisposedException or InvalidOperationException)
            {
                // fall through: settle by lock token
            }
        }
        // The link that delivered the message is gone (reconnect): settle by lock token on $management.
        var body = new Map { ["lock-tokens"] = new[] { message.LockToken }, ["disposition-status"] = status };
        if (reason is not null) body["deadletter-reason"] = reason;
        if (description is not null) body["deadletter-description"] = description;
        try
        {
            await ManagementAsync(message.SubQueue, "com.microsoft:update-disposition", body, null, ct);
        }
        catch (InvalidOperationException ex)
        {
            throw new MessageLockLostException($"Message '{message.MessageId}' was received on a link that no longer exists and the broker cannot settle by lock token ({ex.Message}); it will be delivered again.", ex);
        }
    }

    private async Task<Message> ManagementAsync(SubQueue sub, string operation, Map body, string? associatedLinkName, CancellationToken ct)
    {
        var path = EntityPath(sub);
        var response = await RetryAsync(async scope =>
        {
            var link = await scope.ManagementAsync(path, sub, ct);
            var request = new Message(body) { ApplicationProperties = new ApplicationProperties() };
            request.ApplicationProperties["operation"] = operation;
            request.ApplicationProperties["com.microsoft:server-timeout"] = (uint)_options.OperationTimeout.TotalMilliseconds;
            if (associatedLinkName is not null) request.ApplicationProperties["associated-link-name"] = associatedLinkName;
            return await link.RequestAsync(request, _options.OperationTimeout, ct);
        }, operation, ct);
        var code = System.Convert.ToInt32(response.ApplicationProperties?["statusCode"] ?? 0, System.Globalization.CultureInfo.InvariantCulture);
        var text = response.ApplicationProperties?["statusDescription"]?.ToString();
        return code switch
        {
            200 => response,
            410 => throw new MessageLockLostException($"{operation}: the lock is lost ({text}); the message will be delivered again."),
            401 => throw new UnauthorizedAccessException($"{operation} on '{path}' refused: {text}"),
            >= 500 and not 501 => throw new QueueTransientException($"{operation} on '{path}' failed: {code} {text}"),
            _ => throw new InvalidOperationException($"{operation} on '{path}' failed: {code} {text}"),
        };
    }

    // ---- connection management ----

    private async Task<T> RetryAsync<T>(Func<AmqpConnectionScope, Task<T>> op, string what, CancellationToken ct, DateTimeOffset? until = null)
    {
        var deadline = until ?? _time.GetUtcNow() + _options.OperationTimeout;
        var floor = _time.GetUtcNow() + _options.OperationTimeout;
        if (deadline < floor) deadline = floor; // reconnecting may take longer than a short receive wait
        for (var attempt = 1; ; attempt++)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            AmqpConnectionScope scope;
            try
            {
                scope = await ScopeAsync(ct);
                return await op(scope);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && AmqpErrors.IsTransient(ex))
            {
                await InvalidateAsync();
                var now = _time.GetUtcNow();
                if (now >= deadline)
                    throw new QueueTransientException($"Service Bus {what} on '{_entity}' failed after {attempt} attempts: {ex.Message}", ex);
                // Connection failures already wait in ScopeAsync; this pause keeps a flapping link from spinning.
                var pause = TimeSpan.FromTicks(Math.Min(_options.InitialReconnectBackoff.Ticks << Math.Min(attempt - 1, 10), _options.MaxReconnectBackoff.Ticks));
                if (pause > deadline - now) pause = deadline - now;
                await Task.Delay(pause, _time, ct);
            }
            catch (AmqpException ex) when (!ct.IsCancellationRequested)
            {
                throw AmqpErrors.ToException(ex.Error, $"Service Bus {what} on '{_entity}'");
            }
        }
    }

    private async Task<AmqpConnectionScope> ScopeAsync(CancellationToken ct)
    {
        var s = _scope;
        if (s is { IsClosed: false }) return s;
        await _connectGate.WaitAsync(ct);
        try
        {
            s = _scope;
            if (s is { IsClosed: false }) return s;
            if (s is not null)
            {
                _scope = null;
                await s.DisposeAsync();
            }
            var wait = _nextAttempt - _time.GetUtcNow();
            if (wait > TimeSpan.Zero) await Task.Delay(wait, _time, ct);
            try
            {
                s = await AmqpConnectionScope.OpenAsync(_address, _options, _getToken, Interlocked.Increment(ref _generation), ct);
                _backoff = _options.InitialReconnectBackoff;
                _nextAttempt = default;
                return _scope = s;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is not UnauthorizedAccessException)
            {
                // Exponential backoff with jitter so a fleet of workers does not reconnect in lockstep.
                _nextAttempt = _time.GetUtcNow() + _backoff * (0.8 + 0.4 * Random.Shared.NextDouble());
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _options.MaxReconnectBackoff.Ticks));
                throw ex is AmqpException a && !AmqpErrors.IsTransient(a)
                    ? AmqpErrors.ToException(a.Error, $"connecting to {_address.Host}:{_address.Port}")
                    : new QueueTransientException($"Cannot connect to Service Bus at {_address.Host}:{_address.Port}: {ex.Message}", ex);
            }
        }
        finally
        {
            _connectGate.Release();
        }
    }

    // A failure on a link whose connection is still open only drops that link (the scope re-attaches it lazily);
    // a closed connection drops the whole scope.
    private async Task InvalidateAsync()
    {
        var s = _scope;
        if (s is { IsClosed: true } && Interlocked.CompareExchange(ref _scope, null, s) == s) await s.DisposeAsync();
    }

    // ---- helpers ----

    private string EntityPath(SubQueue sub) => sub == SubQueue.DeadLetter ? _entity + "/$deadletterqueue" : _entity;

    private ReceivedMessage Convert(Message m, ReceiverLink link, AmqpConnectionScope scope, SubQueue sub) =>
        AmqpMessageMapping.FromAmqp(m, new DeliveryHandle(link, m, scope.Generation, link.Name), sub, _time.GetUtcNow(), _options.DefaultLockDuration);

    private static DeliveryHandle HandleOf(ReceivedMessage m) =>
        m.Handle as DeliveryHandle ?? throw new ArgumentException("This message was not received from this Service Bus queue.", nameof(m));

    private static string Clip(string s) => s.Length <= 4096 ? s : s[..4096];

    private static (string Endpoint, string? KeyName, string? Key, string Entity) ParseConnection(ServiceBusOptions o)
    {
        if (!string.IsNullOrWhiteSpace(o.ConnectionString))
        {
            var parts = o.ConnectionString.Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => p.Split('=', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            var endpoint = parts.GetValueOrDefault("Endpoint") ?? throw new ArgumentException("The Service Bus connection string has no Endpoint=.", nameof(o));
            endpoint = endpoint.Replace("sb://", "amqps://", StringComparison.OrdinalIgnoreCase).TrimEnd('/');
            return (endpoint, parts.GetValueOrDefault("SharedAccessKeyName"), parts.GetValueOrDefault("SharedAccessKey"), parts.GetValueOrDefault("EntityPath") ?? o.QueueName);
        }
        if (string.IsNullOrWhiteSpace(o.FullyQualifiedNamespace))
            throw new ArgumentException("ServiceBusOptions needs FullyQualifiedNamespace or ConnectionString (set Pipeline__Queue__FullyQualifiedNamespace).", nameof(o));
        return (o.FullyQualifiedNamespace, o.SharedAccessKeyName, o.SharedAccessKey, o.QueueName);
    }

    private sealed record DeliveryHandle(ReceiverLink Link, Message Message, int Generation, string LinkName);
}

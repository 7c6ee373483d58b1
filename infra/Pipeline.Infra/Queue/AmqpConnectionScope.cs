using System.Collections.Concurrent;
using Amqp;
using Amqp.Framing;
using Amqp.Sasl;
using Amqp.Types;
using Azure.Core;

namespace Pipeline.Infra.Queue;

/// <summary>
/// One AMQP connection with its session and lazily attached links (sender, receivers per sub-queue, $management per
/// sub-queue, $cbs). Disposable as a whole: a dropped connection is replaced by a new scope, never repaired.
/// With Entra ID it puts a JWT on $cbs for every entity path before attaching to it and refreshes it before expiry.
/// </summary>
internal sealed class AmqpConnectionScope : IAsyncDisposable
{
    private readonly Connection _connection;
    private readonly Session _session;
    private readonly ServiceBusOptions _options;
    private readonly Func<CancellationToken, Task<AccessToken>>? _getToken;
    private readonly string _audienceBase;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<string, byte> _audiences = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closing = new();
    private SenderLink? _sender;
    private readonly ReceiverLink?[] _receivers = new ReceiverLink?[2];
    private readonly RequestResponseLink?[] _management = new RequestResponseLink?[2];
    private RequestResponseLink? _cbs;
    private Task? _refreshLoop;
    private DateTimeOffset _tokenExpiry;

    private AmqpConnectionScope(Connection connection, Session session, ServiceBusOptions options, Func<CancellationToken, Task<AccessToken>>? getToken, string audienceBase, int generation)
    {
        _connection = connection;
        _session = session;
        _options = options;
        _getToken = getToken;
        _audienceBase = audienceBase;
        Generation = generation;
    }

    public int Generation { get; }
    public bool IsClosed => _connection.IsClosed;
    public int TokenPuts { get; private set; }

    public static async Task<AmqpConnectionScope> OpenAsync(Address address, ServiceBusOptions options, Func<CancellationToken, Task<AccessToken>>? getToken, int generation, CancellationToken ct)
    {
        var factory = new ConnectionFactory();
        // Entra ID: SASL ANONYMOUS, then CBS. Without setting the profile AMQPNetLite skips SASL entirely and Service Bus refuses the connection.
        if (getToken is not null) factory.SASL.Profile = SaslProfile.Anonymous;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.OperationTimeout);
        var connection = await factory.CreateAsync(address, timeout.Token);
        var session = new Session(connection);
        var audienceBase = $"{(address.UseSsl ? "amqps" : "amqp")}://{address.Host}/";
        return new AmqpConnectionScope(connection, session, options, getToken, audienceBase, generation);
    }

    public async Task<SenderLink> SenderAsync(string entity, CancellationToken ct)
    {
        if (_sender is { IsClosed: false } s) return s;
        await _gate.WaitAsync(ct);
        try
        {
            if (_sender is { IsClosed: false } s2) return s2;
            await AuthorizeAsync(entity, ct);
            var name = "sender-" + Guid.NewGuid().ToString("N");
            var attach = new Attach
            {
                Source = new Source { Address = name },
                Target = new Target { Address = entity },
                SndSettleMode = SenderSettleMode.Unsettled,
                RcvSettleMode = ReceiverSettleMode.First,
            };
            var tcs = NewAttachWaiter();
            var link = new SenderLink(_session, name, attach, (_, remote) => { if (remote.Target is not null) tcs.TrySetResult(); });
            await WaitAttachedAsync(link, tcs, entity, ct);
            return _sender = link;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<ReceiverLink> ReceiverAsync(string entityPath, SubQueue sub, CancellationToken ct)
    {
        if (_receivers[(int)sub] is { IsClosed: false } r) return r;
        await _gate.WaitAsync(ct);
        try
        {
            if (_receivers[(int)sub] is { IsClosed: false } r2) return r2;
            await AuthorizeAsync(entityPath, ct);
            var name = "receiver-" + Guid.NewGuid().ToString("N");
            var attach = new Attach
            {
                Source = new Source { Address = entityPath },
                Target = new Target { Address = name },
                // Peek-lock: unsettled deliveries; we settle first (AMQPNetLite cannot do rcv-settle-mode second, and RabbitMQ refuses it).
                SndSettleMode = SenderSettleMode.Unsettled,
                RcvSettleMode = ReceiverSettleMode.First,
            };
            var tcs = NewAttachWaiter();
            var link = new ReceiverLink(_session, name, attach, (_, remote) => { if (remote.Source is not null) tcs.TrySetResult(); });
            await WaitAttachedAsync(link, tcs, entityPath, ct);
            return _receivers[(int)sub] = link;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the receiver of a sub-queue so the next receive attaches a fresh one.</summary>
    public async Task DropReceiverAsync(SubQueue sub)
    {
        var link = Interlocked.Exchange(ref _receivers[(int)sub], null);
        if (link is null) return;
        try { await link.CloseAsync(TimeSpan.FromSeconds(1), null); }
        catch (AmqpException) { }
        catch (TimeoutException) { }
        catch (ObjectDisposedException) { }
    }

    public async Task<RequestResponseLink> ManagementAsync(string entityPath, SubQueue sub, CancellationToken ct)
    {
        if (_management[(int)sub] is { IsClosed: false } m) return m;
        await _gate.WaitAsync(ct);
        try
        {
            if (_management[(int)sub] is { IsClosed: false } m2) return m2;
            var node = entityPath + "/$management";
            await AuthorizeAsync(node, ct);
            return _management[(int)sub] = await RequestResponseLink.OpenAsync(_session, node, _options.OperationTimeout, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    // ---- CBS ----

    private async Task AuthorizeAsync(string entityPath, CancellationToken ct)
    {
        if (_getToken is null) return;
        var audience = _audienceBase + entityPath;
        if (_audiences.ContainsKey(audience)) return;
        _cbs ??= await RequestResponseLink.OpenAsync(_session, "$cbs", _options.OperationTimeout, ct);
        var token = await _getToken(ct);
        await PutTokenAsync(audience, token, ct);
        _audiences[audience] = 0;
        _refreshLoop ??= Task.Run(RefreshLoopAsync, CancellationToken.None);
    }

    private async Task PutTokenAsync(string audience, AccessToken token, CancellationToken ct)
    {
        var request = new Message(token.Token) { ApplicationProperties = new ApplicationProperties() };
        request.ApplicationProperties["operation"] = "put-token";
        request.ApplicationProperties["type"] = "jwt";
        request.ApplicationProperties["name"] = audience;
        request.ApplicationProperties["expiration"] = token.ExpiresOn.UtcDateTime;
        var response = await _cbs!.RequestAsync(request, _options.OperationTimeout, ct);
        var code = Convert.ToInt32(response.ApplicationProperties?["status-code"] ?? 0, System.Globalization.CultureInfo.InvariantCulture);
        if (code is not (200 or 202))
            throw new UnauthorizedAccessException($"Service Bus refused the token for '{audience}' ({code} {response.ApplicationProperties?["status-description"]}). Check the identity has 'Azure Service Bus Data Sender/Receiver' on the namespace.");
        _tokenExpiry = token.ExpiresOn;
        TokenPuts++;
    }

    private async Task RefreshLoopAsync()
    {
        while (!_closing.IsCancellationRequested && !_connection.IsClosed)
        {
            var life = _tokenExpiry - DateTimeOffset.UtcNow;
            var margin = TimeSpan.FromTicks(Math.Min(_options.TokenRefreshMargin.Ticks, Math.Max(life.Ticks / 2, 0)));
            var wait = life - margin;
            try
            {
                if (wait > TimeSpan.Zero) await Task.Delay(wait, _closing.Token);
                var token = await _getToken!(_closing.Token);
                foreach (var audience in _audiences.Keys) await PutTokenAsync(audience, token, _closing.Token);
            }
            catch (OperationCanceledException) when (_closing.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (!_connection.IsClosed)
            {
                // Keep the old token until it expires; try again shortly.
                try { await Task.Delay(TimeSpan.FromSeconds(1), _closing.Token); } catch (OperationCanceledException) { return; }
            }
            catch (Exception)
            {
                return;
            }
        }
    }

    // ---- attach helpers ----

    private static TaskCompletionSource NewAttachWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task WaitAttachedAsync(Link link, TaskCompletionSource tcs, string address, CancellationToken ct)
    {
        link.AddClosedCallback((_, error) => tcs.TrySetException(AmqpErrors.ToException(error, $"attach to '{address}'")));
        try
        {
            await tcs.Task.WaitAsync(_options.OperationTimeout, ct);
        }
        catch
        {
            try { await link.CloseAsync(TimeSpan.FromSeconds(1), null); } catch (AmqpException) { } catch (TimeoutException) { } catch (ObjectDisposedException) { }
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        try { await _connection.CloseAsync(TimeSpan.FromSeconds(2), null); }
        catch (AmqpException) { }
        catch (TimeoutException) { }
        catch (ObjectDisposedException) { }
        catch (OperationCanceledException) { }
    }
}

/// <summary>A request/response pair of links to a node such as $cbs or &lt;entity&gt;/$management.</summary>
internal sealed class RequestResponseLink
{
    private readonly SenderLink _sender;
    private readonly ReceiverLink _receiver;
    private readonly string _replyTo;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Message>> _pending = new(StringComparer.Ordinal);

    private RequestResponseLink(SenderLink sender, ReceiverLink receiver, string replyTo)
    {
        _sender = sender;
        _receiver = receiver;
        _replyTo = replyTo;
    }

    public bool IsClosed => _sender.IsClosed || _receiver.IsClosed;

    public string Node { get; private init; } = "";

    public static async Task<RequestResponseLink> OpenAsync(Session session, string node, TimeSpan timeout, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        var replyTo = node.Replace("$", "", StringComparison.Ordinal) + "-reply-" + id;
        var sentAttached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var recvAttached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = new SenderLink(session, "mgmt-send-" + id, new Attach { Source = new Source { Address = replyTo }, Target = new Target { Address = node } },
            (_, remote) => { if (remote.Target is not null) sentAttached.TrySetResult(); });
        var receiver = new ReceiverLink(session, "mgmt-recv-" + id, new Attach { Source = new Source { Address = node }, Target = new Target { Address = replyTo } },
            (_, remote) => { if (remote.Source is not null) recvAttached.TrySetResult(); });
        sender.AddClosedCallback((_, e) => sentAttached.TrySetException(AmqpErrors.ToException(e, $"attach to '{node}'")));
        receiver.AddClosedCallback((_, e) => recvAttached.TrySetException(AmqpErrors.ToException(e, $"attach to '{node}'")));
        var rr = new RequestResponseLink(sender, receiver, replyTo) { Node = node };
        receiver.Start(50, (link, message) =>
        {
            link.Accept(message);
            var corr = message.Properties?.CorrelationId;
            if (corr is not null && rr._pending.TryRemove(corr, out var tcs)) tcs.TrySetResult(message);
        });
        receiver.AddClosedCallback((_, e) =>
        {
            foreach (var (_, tcs) in rr._pending) tcs.TrySetException(AmqpErrors.ToException(e, $"request to '{node}'"));
        });
        try
        {
            await Task.WhenAll(sentAttached.Task, recvAttached.Task).WaitAsync(timeout, ct);
        }
        catch
        {
            try { await sender.CloseAsync(TimeSpan.FromSeconds(1), null); } catch (AmqpException) { } catch (TimeoutException) { } catch (ObjectDisposedException) { }
            try { await receiver.CloseAsync(TimeSpan.FromSeconds(1), null); } catch (AmqpException) { } catch (TimeoutException) { } catch (ObjectDisposedException) { }
            throw;
        }
        return rr;
    }

    public async Task<Message> RequestAsync(Message request, TimeSpan timeout, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N");
        request.Properties ??= new Properties();
        request.Properties.MessageId = id;
        request.Properties.ReplyTo = _replyTo;
        var tcs = new TaskCompletionSource<Message>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        try
        {
            await _sender.SendAsync(request, timeout).WaitAsync(ct);
            return await tcs.Task.WaitAsync(timeout, ct);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }
}

/// <summary>Classifies AMQP errors: which a reconnect may fix, which need a person.</summary>
internal static class AmqpErrors
{
    private static readonly HashSet<string> Permanent = new(StringComparer.Ordinal)
    {
        "amqp:unauthorized-access", "amqp:not-found", "amqp:not-allowed", "amqp:invalid-field", "amqp:decode-error",
        "amqp:not-implemented", "amqp:link:message-size-exceeded", "amqp:precondition-failed", "com.microsoft:entity-disabled",
        "com.microsoft:argument-error", "com.microsoft:argument-out-of-range",
    };

    public static bool IsTransient(Exception ex) => ex switch
    {
        QueueTransientException or TimeoutException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException => true,
        AmqpException a => a.Error?.Condition is null || !Permanent.Contains(a.Error.Condition.ToString()),
        OperationCanceledException => false,
        _ => false,
    };

    public static Exception ToException(Error? error, string what)
    {
        var condition = error?.Condition?.ToString() ?? "amqp:link:detach-forced";
        var message = $"{what} failed: {condition} {error?.Description}".TrimEnd();
        if (condition == "amqp:unauthorized-access") return new UnauthorizedAccessException(message + " (check the SAS key or the identity's Service Bus data role).");
        if (Permanent.Contains(condition)) return new InvalidOperationException(message);
        return new QueueTransientException(message);
    }
}

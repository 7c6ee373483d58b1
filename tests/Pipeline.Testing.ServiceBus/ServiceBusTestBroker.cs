using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;
using Microsoft.Azure.Amqp.Transaction;
using Microsoft.Azure.Amqp.Transport;

namespace Pipeline.Testing.ServiceBus;

/// <summary>
/// A loopback AMQP 1.0 broker that speaks the Service Bus dialect the Azure.Messaging.ServiceBus SDK uses, built on
/// Microsoft.Azure.Amqp's listener side. The SDK reaches it with the emulator connection string
/// (<see cref="ConnectionString"/>: plain AMQP, SASL MSSBCBS, then a SAS token over <c>$cbs</c>, checked against
/// <see cref="Key"/>). Queues are created on first use with <see cref="BrokerQueueOptions"/> (or declared up front):
/// peek-lock with lock expiry and redelivery, 16-byte lock tokens as delivery tags, header delivery-count,
/// x-opt-sequence-number / x-opt-enqueued-time / x-opt-locked-until, batched transfers (0x80013700),
/// accepted / modified / released / rejected(com.microsoft:dead-letter) dispositions with rcv-settle-mode second,
/// <c>&lt;entity&gt;/$management</c> renew-lock, update-disposition and peek-message, max delivery count into
/// <c>&lt;queue&gt;/$DeadLetterQueue</c>, duplicate detection by MessageId, scheduled enqueue and TTL.
/// Faults: <see cref="DropConnections"/>, <see cref="RefuseNextTokens"/>, <see cref="SettlementDelay"/>,
/// <see cref="LoseAllLocks"/>, <see cref="FailNextRenewals"/>. Everything lives in memory and stops with
/// <see cref="DisposeAsync"/> (or the test process).
/// </summary>
public sealed class ServiceBusTestBroker : IRuntimeProvider, IAsyncDisposable
{
    /// <summary>The SAS key name the broker accepts.</summary>
    public const string KeyName = "RootManageSharedAccessKey";
    /// <summary>The SAS key the broker checks signatures against.</summary>
    public const string Key = "bG9vcGJhY2stdGVzdC1icm9rZXIta2V5LW5vdC1hLXNlY3JldA==";

    private const ulong MaxMessageSize = 256 * 1024; // Standard tier
    private const string CbsNode = "$cbs";
    private const string ManagementSuffix = "/$management";
    private const string DeadLetterSuffix = "/$DeadLetterQueue";
    private static readonly AmqpSymbol DeadLetterCondition = "com.microsoft:dead-letter";
    private static readonly AmqpSymbol LockLostCondition = "com.microsoft:message-lock-lost";

    private readonly object _sync = new();
    private readonly Dictionary<string, BrokerQueue> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<AmqpConnection, ConnectionState> _connections = new();
    private readonly BrokerQueueOptions _defaults;
    private readonly CancellationTokenSource _stop = new();
    private AmqpConnectionListener? _listener;
    private Task? _ticker;
    private int _refuseTokens;
    private int _failRenewals;
    private int _putTokens;
    private int _renewals;
    private int _connectionsAccepted;

    private ServiceBusTestBroker(BrokerQueueOptions defaults) => _defaults = defaults;

    /// <summary>The loopback port.</summary>
    public int Port { get; private set; }

    /// <summary>The emulator connection string the SDK accepts (no TLS, SAS key, 127.0.0.1).</summary>
    public string ConnectionString => ConnectionStringWith(Key);

    /// <summary>The connection string with another key (to show that a wrong key is refused).</summary>
    public string ConnectionStringWith(string key) =>
        $"Endpoint=sb://127.0.0.1:{Port};SharedAccessKeyName={KeyName};SharedAccessKey={key};UseDevelopmentEmulator=true";

    /// <summary>Successful and refused $cbs put-token requests so far.</summary>
    public int PutTokenCount => Volatile.Read(ref _putTokens);
    /// <summary>renew-lock requests so far.</summary>
    public int RenewalCount => Volatile.Read(ref _renewals);
    /// <summary>AMQP connections accepted so far.</summary>
    public int ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);
    /// <summary>Connections open now.</summary>
    public int OpenConnections => _connections.Keys.Count(c => c.State == AmqpObjectState.Opened);

    /// <summary>Delay before each disposition (settlement) is applied and answered (fault injection).</summary>
    public TimeSpan SettlementDelay { get; set; }

    /// <summary>Starts a broker on a free loopback port. <paramref name="defaults"/> apply to queues created on first use.</summary>
    public static ServiceBusTestBroker Start(BrokerQueueOptions? defaults = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var broker = new ServiceBusTestBroker(defaults ?? new BrokerQueueOptions());
            try
            {
                broker.Open(FreePort());
                return broker;
            }
            catch (SocketException) when (attempt < 5)
            {
                broker._listener?.Close();
            }
        }
    }

    /// <summary>Declares a queue with its own options (before first use).</summary>
    public void DeclareQueue(string name, BrokerQueueOptions options)
    {
        lock (_sync) _queues[name] = new BrokerQueue(name, options);
    }

    /// <summary>The queues that exist (declared or used).</summary>
    public IReadOnlyList<string> QueueNames
    {
        get { lock (_sync) return _queues.Keys.Order(StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Counters of a queue.</summary>
    public BrokerQueueCounters Counters(string queue)
    {
        lock (_sync) return QueueNamed(queue).Counters;
    }

    /// <summary>Messages in the queue (available, scheduled or locked).</summary>
    public int ActiveCount(string queue)
    {
        lock (_sync) return QueueNamed(queue).Active.Entries.Count;
    }

    /// <summary>Messages in the dead-letter sub-queue.</summary>
    public int DeadLetterCount(string queue)
    {
        lock (_sync) return QueueNamed(queue).DeadLetter.Entries.Count;
    }

    /// <summary>A snapshot of the messages of a queue or its dead-letter sub-queue.</summary>
    public IReadOnlyList<BrokerMessageInfo> Messages(string queue, bool deadLetter = false)
    {
        lock (_sync)
        {
            var q = QueueNamed(queue);
            return (deadLetter ? q.DeadLetter : q.Active).Entries
                .Select(e => new BrokerMessageInfo(e.MessageId, e.Sequence, e.DeliveryCount, e.LockToken is not null,
                    e.ExtraProperties.GetValueOrDefault("DeadLetterReason") as string, e.ExtraProperties.GetValueOrDefault("DeadLetterErrorDescription") as string))
                .ToList();
        }
    }

    /// <summary>Aborts every client connection (as a network failure would). Locks stay until they expire.</summary>
    public void DropConnections()
    {
        foreach (var c in _connections.Keys.ToList()) c.Abort();
    }

    /// <summary>Answers the next <paramref name="count"/> put-token requests with 401.</summary>
    public void RefuseNextTokens(int count) => Interlocked.Exchange(ref _refuseTokens, count);

    /// <summary>Answers the next <paramref name="count"/> renew-lock requests with 410 (lock lost).</summary>
    public void FailNextRenewals(int count) => Interlocked.Exchange(ref _failRenewals, count);

    /// <summary>Drops every lock at once (as a broker failover would): the messages are available again.</summary>
    public void LoseAllLocks()
    {
        lock (_sync)
        {
            foreach (var q in _queues.Values)
                foreach (var entity in new[] { q.Active, q.DeadLetter })
                    foreach (var e in entity.Entries.Where(e => e.LockToken is not null).ToList())
                        Unlock(q, entity, e, countAttempt: true);
            PumpAll();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Close();
        foreach (var c in _connections.Keys.ToList()) c.SafeClose();
        if (_ticker is not null)
        {
            try { await _ticker; } catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }

    private void Open(int port)
    {
        Port = port;
        var sasl = new SaslTransportProvider();
        sasl.Versions.Add(new AmqpVersion(1, 0, 0));
        sasl.AddHandler(new SaslAnonymousHandler("MSSBCBS"));
        var settings = new AmqpSettings { RuntimeProvider = this };
        settings.TransportProviders.Add(sasl);
        _listener = new AmqpConnectionListener([$"amqp://127.0.0.1:{port}"], settings, new AmqpConnectionSettings { ContainerId = "pipeline-test-broker" });
        _listener.Open();
        _ticker = Task.Run(TickAsync);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    // ---- IRuntimeProvider: connections, sessions, links ----

    AmqpConnection IConnectionFactory.CreateConnection(TransportBase transport, ProtocolHeader protocolHeader, bool isInitiator, AmqpSettings amqpSettings, AmqpConnectionSettings connectionSettings)
    {
        var connection = new AmqpConnection(transport, protocolHeader, isInitiator, amqpSettings, connectionSettings);
        _connections[connection] = new ConnectionState();
        Interlocked.Increment(ref _connectionsAccepted);
        connection.Closed += (_, _) => _connections.TryRemove(connection, out _);
        return connection;
    }

    AmqpSession ISessionFactory.CreateSession(AmqpConnection connection, AmqpSessionSettings settings) => new(connection, settings, this);

    AmqpLink ILinkFactory.CreateLink(AmqpSession session, AmqpLinkSettings settings)
    {
        if (settings.Role == true)
        {
            // The client sends: we receive with plenty of credit, replenished as messages are settled.
            settings.TotalLinkCredit = 500;
            settings.AutoSendFlow = true;
            settings.MaxMessageSize = MaxMessageSize; // the SDK sizes its batches by what the broker attaches with
            return new ReceivingAmqpLink(session, settings);
        }
        return new SendingAmqpLink(session, settings);
    }

    IAsyncResult ILinkFactory.BeginOpenLink(AmqpLink link, TimeSpan timeout, AsyncCallback callback, object state)
    {
        var done = new TaskCompletionSource(state);
        try
        {
            Attach(link);
            done.SetResult();
        }
        catch (Exception e)
        {
            done.SetException(e);
        }
        callback?.Invoke(done.Task);
        return done.Task;
    }

    void ILinkFactory.EndOpenLink(IAsyncResult result) => ((Task)result).GetAwaiter().GetResult();

    private sealed class ConnectionState
    {
        public ConcurrentDictionary<string, SendingAmqpLink> ReplyLinks { get; } = new(StringComparer.Ordinal);
        public ConcurrentBag<string> Audiences { get; } = [];
    }

    private ConnectionState StateOf(AmqpLink link) =>
        _connections.TryGetValue(link.Session.Connection, out var s) ? s : throw new AmqpException(AmqpErrorCode.IllegalState, "connection is closing");

    private void Attach(AmqpLink link)
    {
        var state = StateOf(link);
        if (link is ReceivingAmqpLink incoming)
        {
            var target = ((link.Settings.Target as Target)?.Address?.ToString() ?? "").Trim();
            if (target == CbsNode)
            {
                incoming.RegisterMessageListener(m => OnCbs(incoming, state, m));
            }
            else if (target.EndsWith(ManagementSuffix, StringComparison.OrdinalIgnoreCase))
            {
                var entityPath = target[..^ManagementSuffix.Length];
                Authorize(state, target);
                incoming.RegisterMessageListener(m => OnManagement(incoming, state, entityPath, m));
            }
            else
            {
                Authorize(state, target);
                var (queue, deadLetter) = Resolve(target);
                if (deadLetter) throw new AmqpException(AmqpErrorCode.NotAllowed, "Cannot send to a dead-letter queue.");
                incoming.RegisterMessageListener(m => OnSend(incoming, queue, m));
            }
            link.Opened += (_, _) => incoming.SetTotalLinkCredit(500, applyNow: true);
            return;
        }

        var outgoing = (SendingAmqpLink)link;
        var source = ((link.Settings.Source as Source)?.Address?.ToString() ?? "").Trim();
        if (source == CbsNode || source.EndsWith(ManagementSuffix, StringComparison.OrdinalIgnoreCase))
        {
            // The response half of a request/response pair: replies go to the request's reply-to address.
            var replyTo = (link.Settings.Target as Target)?.Address?.ToString() ?? throw new AmqpException(AmqpErrorCode.InvalidField, "A reply link needs a target address.");
            state.ReplyLinks[replyTo] = outgoing;
            link.Closed += (_, _) => state.ReplyLinks.TryRemove(new KeyValuePair<string, SendingAmqpLink>(replyTo, outgoing));
            return;
        }

        Authorize(state, source);
        var (q, dlq) = Resolve(source);
        var consumer = new ConsumerLink(outgoing, dlq ? q.DeadLetter : q.Active);
        outgoing.RegisterCreditListener((_, _, _) =>
        {
            lock (_sync) Pump(q, consumer.Entity);
        });
        outgoing.RegisterDispositionListener(d => OnDisposition(q, consumer, d));
        link.Closed += (_, _) =>
        {
            lock (_sync)
            {
                consumer.Closed = true;
                consumer.Entity.Consumers.Remove(consumer);
            }
        };
        lock (_sync) consumer.Entity.Consumers.Add(consumer);
    }

    private static void Authorize(ConnectionState state, string address)
    {
        var path = address.Trim('/');
        foreach (var audience in state.Audiences)
        {
            var granted = Uri.TryCreate(audience, UriKind.Absolute, out var uri) ? uri.AbsolutePath.Trim('/') : audience.Trim('/');
            if (granted.Length == 0 || path.StartsWith(granted, StringComparison.OrdinalIgnoreCase)) return;
        }
        throw new AmqpException(AmqpErrorCode.UnauthorizedAccess, $"No valid token was put on $cbs for '{address}'.");
    }

    private (BrokerQueue Queue, bool DeadLetter) Resolve(string address)
    {
        var path = address.Trim('/');
        var deadLetter = path.EndsWith(DeadLetterSuffix, StringComparison.OrdinalIgnoreCase);
        if (deadLetter) path = path[..^DeadLetterSuffix.Length];
        if (path.Length == 0 || path.Contains('/', StringComparison.Ordinal) || path.Contains('$', StringComparison.Ordinal))
            throw new AmqpException(AmqpErrorCode.NotFound, $"The messaging entity '{address}' could not be found.");
        lock (_sync) return (QueueNamed(path), deadLetter);
    }

    private BrokerQueue QueueNamed(string name)
    {
        if (!_queues.TryGetValue(name, out var q)) _queues[name] = q = new BrokerQueue(name, _defaults);
        return q;
    }

    // ---- $cbs ----

    private void OnCbs(ReceivingAmqpLink link, ConnectionState state, AmqpMessage request)
    {
        Accept(link, request);
        Interlocked.Increment(ref _putTokens);
        var props = request.ApplicationProperties.Map;
        var type = props["type"] as string;
        var audience = props["name"] as string ?? "";
        var token = request.ValueBody?.Value as string;
        int code;
        string description;
        if (props["operation"] as string != "put-token")
        {
            (code, description) = (400, "Only put-token is supported.");
        }
        else if (Interlocked.Decrement(ref _refuseTokens) >= 0)
        {
            (code, description) = (401, "The token was refused (fault injection).");
        }
        else if (type != "servicebus.windows.net:sastoken")
        {
            (code, description) = (401, $"Token type '{type}' is not accepted here; only SAS tokens (servicebus.windows.net:sastoken). Entra ID tokens need a real namespace.");
        }
        else if (!SasTokens.Verify(token, KeyName, Key, DateTimeOffset.UtcNow, out var why))
        {
            (code, description) = (401, why);
        }
        else
        {
            state.Audiences.Add(audience);
            (code, description) = (202, "Accepted");
        }
        var response = AmqpMessage.Create(new AmqpValue { Value = null });
        response.ApplicationProperties.Map["status-code"] = code;
        response.ApplicationProperties.Map["status-description"] = description;
        Reply(state, request, response);
    }

    // ---- sends ----

    private void OnSend(ReceivingAmqpLink link, BrokerQueue queue, AmqpMessage message)
    {
        DeliveryState outcome;
        try
        {
            var parts = BrokerMessages.Split(message);
            lock (_sync)
            {
                queue.Counters.Transfers++;
                foreach (var payload in parts) Enqueue(queue, payload);
                Pump(queue, queue.Active);
            }
            outcome = AmqpConstants.AcceptedOutcome;
        }
        catch (Exception e) when (e is AmqpException or InvalidOperationException or InvalidCastException or FormatException)
        {
            outcome = new Rejected { Error = new Error { Condition = AmqpErrorCode.DecodeError, Description = e.Message } };
        }
        if (!message.Settled) link.DisposeMessage(message, outcome, settled: true, batchable: message.Batchable);
    }

    private void Enqueue(BrokerQueue queue, byte[] payload)
    {
        var decoded = BrokerMessages.Decode(payload);
        var id = BrokerMessages.MessageId(decoded);
        var now = DateTimeOffset.UtcNow;
        if (queue.Options.RequiresDuplicateDetection && id is not null)
        {
            foreach (var old in queue.SeenIds.Where(kv => now - kv.Value > queue.Options.DuplicateDetectionWindow).Select(kv => kv.Key).ToList())
                queue.SeenIds.Remove(old);
            if (queue.SeenIds.ContainsKey(id))
            {
                queue.Counters.DuplicatesDropped++;
                return; // accepted and dropped, as Service Bus does
            }
            queue.SeenIds[id] = now;
        }
        var visible = BrokerMessages.ScheduledFor(decoded) is { } at && at > now ? at : now;
        var entry = new BrokerEntry { Payload = payload, MessageId = id, Sequence = ++queue.Sequence, EnqueuedAt = visible, VisibleAt = visible };
        if (BrokerMessages.TimeToLive(decoded) is { } ttl) entry.ExpiresAt = visible + ttl;
        queue.Active.Entries.Add(entry);
        queue.Counters.Enqueued++;
    }

    // ---- deliveries ----

    private void PumpAll()
    {
        foreach (var q in _queues.Values)
        {
            Pump(q, q.Active);
            Pump(q, q.DeadLetter);
        }
    }

    // Hands available messages to consumer links that have credit, round robin. Caller holds _sync.
    private void Pump(BrokerQueue queue, BrokerEntity entity)
    {
        if (entity.Consumers.Count == 0) return;
        var now = DateTimeOffset.UtcNow;
        foreach (var entry in entity.Entries.Where(e => e.LockToken is null && e.VisibleAt <= now && (e.ExpiresAt is null || e.ExpiresAt > now)).OrderBy(e => e.Sequence).ToList())
        {
            var consumer = NextWithCredit(entity);
            if (consumer is null) return;
            Deliver(queue, entity, entry, consumer, now);
        }
    }

    private static ConsumerLink? NextWithCredit(BrokerEntity entity)
    {
        for (var i = 0; i < entity.Consumers.Count; i++)
        {
            var c = entity.Consumers[(entity.NextConsumer + i) % entity.Consumers.Count];
            if (!c.Closed && c.Link.State == AmqpObjectState.Opened && c.Link.LinkCredit > 0)
            {
                entity.NextConsumer = (entity.NextConsumer + i + 1) % entity.Consumers.Count;
                return c;
            }
        }
        return null;
    }

    private static void Deliver(BrokerQueue queue, BrokerEntity entity, BrokerEntry entry, ConsumerLink consumer, DateTimeOffset now)
    {
        entry.DeliveryCount++;
        entry.LockToken = Guid.NewGuid();
        entry.LockedUntil = now + queue.Options.LockDuration;
        entry.Holder = consumer;
        if (!entity.IsDeadLetter)
        {
            queue.Counters.Deliveries++;
            if (entry.DeliveryCount > 1) queue.Counters.Redeliveries++;
        }
        var message = Build(entry, locked: true);
        try
        {
            consumer.Link.SendMessageNoWait(message, new ArraySegment<byte>(entry.LockToken.Value.ToByteArray()), AmqpConstants.NullBinary);
        }
        catch (Exception e) when (e is AmqpException or InvalidOperationException or ObjectDisposedException)
        {
            // The link went away between the credit check and the send: the lock simply runs out.
        }
    }

    private static AmqpMessage Build(BrokerEntry entry, bool locked)
    {
        var annotations = new Dictionary<string, object>
        {
            [BrokerMessages.SequenceNumber] = entry.Sequence,
            [BrokerMessages.EnqueuedTime] = entry.EnqueuedAt.UtcDateTime,
        };
        if (locked) annotations[BrokerMessages.LockedUntil] = entry.LockedUntil.UtcDateTime;
        if (entry.DeadLetterSource is not null) annotations[BrokerMessages.DeadLetterSource] = entry.DeadLetterSource;
        var previousAttempts = (uint)Math.Max(0, entry.DeliveryCount - (locked ? 1 : 0));
        return BrokerMessages.Copy(BrokerMessages.Decode(entry.Payload), h => h.DeliveryCount = previousAttempts, annotations, entry.ExtraProperties);
    }

    // ---- settlement ----

    private void OnDisposition(BrokerQueue queue, ConsumerLink consumer, Delivery delivery)
    {
        var delay = SettlementDelay;
        if (delay > TimeSpan.Zero)
        {
            _ = Task.Delay(delay).ContinueWith(_ => Settle(queue, consumer, delivery), TaskScheduler.Default);
            return;
        }
        Settle(queue, consumer, delivery);
    }

    private void Settle(BrokerQueue queue, ConsumerLink consumer, Delivery delivery)
    {
        var state = delivery.State is TransactionalState t ? t.Outcome : delivery.State;
        var tag = delivery.DeliveryTag;
        DeliveryState reply;
        lock (_sync)
        {
            var token = tag.Count == 16 ? new Guid(tag.AsSpan()) : Guid.Empty;
            var (ok, error) = SettleByToken(queue, consumer.Entity, token, state switch
            {
                Accepted => "completed",
                Released => "released",
                Modified => "abandoned",
                Rejected => "suspended",
                _ => "abandoned",
            }, (state as Rejected)?.Error);
            // Success echoes the outcome; a rejected (dead-lettered) one without its error, which the SDK would read as a failure.
            reply = !ok ? new Rejected { Error = error } : state is Rejected ? new Rejected() : state as Outcome ?? AmqpConstants.AcceptedOutcome;
            PumpAll();
        }
        if (delivery.Settled) return;
        try
        {
            consumer.Link.DisposeDelivery(delivery, true, reply);
        }
        catch (Exception e) when (e is AmqpException or InvalidOperationException or ObjectDisposedException)
        {
            // The client went away before the answer: it will see a lost lock or a redelivery.
        }
    }

    // Applies a settlement by lock token. Caller holds _sync.
    private (bool Ok, Error? Error) SettleByToken(BrokerQueue queue, BrokerEntity entity, Guid token, string status, Error? rejection, string? reason = null, string? description = null)
    {
        var now = DateTimeOffset.UtcNow;
        var entry = entity.Entries.FirstOrDefault(e => e.LockToken == token);
        if (entry is null || entry.LockedUntil <= now)
        {
            queue.Counters.LockLostSettlements++;
            return (false, new Error { Condition = LockLostCondition, Description = "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue." });
        }
        switch (status)
        {
            case "completed":
                entity.Entries.Remove(entry);
                queue.Counters.Completed++;
                break;
            case "released":
                Unlock(queue, entity, entry, countAttempt: false);
                break;
            case "suspended":
                if (rejection?.Info is { } info)
                {
                    reason ??= info.TryGetValue<string>("DeadLetterReason", out var r) ? r : null;
                    description ??= info.TryGetValue<string>("DeadLetterErrorDescription", out var d) ? d : null;
                }
                entity.Entries.Remove(entry);
                if (entity.IsDeadLetter) break; // dead-lettering a dead letter removes it, as Service Bus does
                MoveToDeadLetter(queue, entry, reason, description);
                break;
            default:
                queue.Counters.Abandoned++;
                Unlock(queue, entity, entry, countAttempt: true);
                break;
        }
        return (true, null);
    }

    private static void Unlock(BrokerQueue queue, BrokerEntity entity, BrokerEntry entry, bool countAttempt)
    {
        entry.LockToken = null;
        entry.Holder = null;
        if (!countAttempt) entry.DeliveryCount = Math.Max(0, entry.DeliveryCount - 1);
        if (!entity.IsDeadLetter && entry.DeliveryCount >= queue.Options.MaxDeliveryCount)
        {
            entity.Entries.Remove(entry);
            MoveToDeadLetter(queue, entry, "MaxDeliveryCountExceeded", $"Message could not be consumed after {queue.Options.MaxDeliveryCount} delivery attempts.");
        }
    }

    private static void MoveToDeadLetter(BrokerQueue queue, BrokerEntry entry, string? reason, string? description)
    {
        var dead = new BrokerEntry { Payload = entry.Payload, MessageId = entry.MessageId, Sequence = entry.Sequence, EnqueuedAt = entry.EnqueuedAt, VisibleAt = DateTimeOffset.MinValue, DeadLetterSource = queue.Name };
        foreach (var (k, v) in entry.ExtraProperties) dead.ExtraProperties[k] = v;
        if (reason is not null) dead.ExtraProperties["DeadLetterReason"] = reason;
        if (description is not null) dead.ExtraProperties["DeadLetterErrorDescription"] = description;
        queue.DeadLetter.Entries.Add(dead);
        queue.Counters.DeadLettered++;
    }

    // ---- $management ----

    private void OnManagement(ReceivingAmqpLink link, ConnectionState state, string entityPath, AmqpMessage request)
    {
        Accept(link, request);
        AmqpMessage response;
        try
        {
            var (queue, deadLetter) = Resolve(entityPath);
            var entity = deadLetter ? queue.DeadLetter : queue.Active;
            var body = request.ValueBody?.Value as AmqpMap ?? new AmqpMap();
            response = (request.ApplicationProperties.Map["operation"] as string) switch
            {
                "com.microsoft:renew-lock" => RenewLocks(queue, entity, body),
                "com.microsoft:update-disposition" => UpdateDisposition(queue, entity, body),
                "com.microsoft:peek-message" => Peek(entity, body),
                var other => Status(501, $"The test broker does not implement '{other}'.", AmqpErrorCode.NotImplemented),
            };
        }
        catch (AmqpException e)
        {
            response = Status(404, e.Error.Description, e.Error.Condition);
        }
        Reply(state, request, response);
    }

    private AmqpMessage RenewLocks(BrokerQueue queue, BrokerEntity entity, AmqpMap body)
    {
        Interlocked.Increment(ref _renewals);
        var tokens = body[new MapKey("lock-tokens")] as Guid[] ?? [];
        if (Interlocked.Decrement(ref _failRenewals) >= 0)
            return Status(410, "The lock was lost (fault injection).", LockLostCondition);
        var expirations = new DateTime[tokens.Length];
        lock (_sync)
        {
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < tokens.Length; i++)
            {
                var entry = entity.Entries.FirstOrDefault(e => e.LockToken == tokens[i]);
                if (entry is null || entry.LockedUntil <= now)
                    return Status(410, "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.", LockLostCondition);
                entry.LockedUntil = now + queue.Options.LockDuration;
                expirations[i] = entry.LockedUntil.UtcDateTime;
            }
        }
        var map = new AmqpMap { [new MapKey("expirations")] = expirations };
        return Status(200, "OK", null, map);
    }

    private AmqpMessage UpdateDisposition(BrokerQueue queue, BrokerEntity entity, AmqpMap body)
    {
        var tokens = body[new MapKey("lock-tokens")] as Guid[] ?? [];
        var status = body[new MapKey("disposition-status")] as string ?? "";
        var reason = body[new MapKey("deadletter-reason")] as string;
        var description = body[new MapKey("deadletter-description")] as string;
        lock (_sync)
        {
            foreach (var token in tokens)
            {
                var (ok, error) = SettleByToken(queue, entity, token, status, null, reason, description);
                if (!ok) return Status(410, error!.Description, LockLostCondition);
            }
            PumpAll();
        }
        return Status(200, "OK");
    }

    private AmqpMessage Peek(BrokerEntity entity, AmqpMap body)
    {
        var from = body[new MapKey("from-sequence-number")] is long f ? f : 0;
        var count = body[new MapKey("message-count")] is int c ? c : 1;
        List<AmqpMap> messages;
        lock (_sync)
        {
            messages = entity.Entries.Where(e => e.Sequence >= from).OrderBy(e => e.Sequence).Take(count)
                .Select(e => new AmqpMap { [new MapKey("message")] = new ArraySegment<byte>(BrokerMessages.Encode(Build(e, locked: false))) })
                .ToList();
        }
        if (messages.Count == 0) return Status(204, "No messages");
        return Status(200, "OK", null, new AmqpMap { [new MapKey("messages")] = messages });
    }

    private static AmqpMessage Status(int code, string description, AmqpSymbol? condition = null, AmqpMap? body = null)
    {
        var m = AmqpMessage.Create(new AmqpValue { Value = body ?? new AmqpMap() });
        m.ApplicationProperties.Map["statusCode"] = code;
        m.ApplicationProperties.Map["statusDescription"] = description;
        if (condition is { } c) m.ApplicationProperties.Map["errorCondition"] = c;
        return m;
    }

    private static void Accept(ReceivingAmqpLink link, AmqpMessage request)
    {
        if (!request.Settled) link.DisposeMessage(request, AmqpConstants.AcceptedOutcome, settled: true, batchable: false);
    }

    private static void Reply(ConnectionState state, AmqpMessage request, AmqpMessage response)
    {
        response.Properties.CorrelationId = request.Properties.MessageId;
        var replyTo = request.Properties.ReplyTo?.ToString();
        if (replyTo is null || !state.ReplyLinks.TryGetValue(replyTo, out var link)) return; // nobody to answer
        try
        {
            link.SendMessageNoWait(response, new ArraySegment<byte>(Guid.NewGuid().ToByteArray()), AmqpConstants.NullBinary);
        }
        catch (Exception e) when (e is AmqpException or InvalidOperationException or ObjectDisposedException)
        {
        }
    }

    // ---- time: lock expiry, TTL, scheduled messages ----

    private async Task TickAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(25, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            lock (_sync)
            {
                var now = DateTimeOffset.UtcNow;
                foreach (var q in _queues.Values)
                {
                    foreach (var entity in new[] { q.Active, q.DeadLetter })
                    {
                        foreach (var e in entity.Entries.Where(e => e.LockToken is not null && e.LockedUntil <= now).ToList())
                        {
                            q.Counters.LocksExpired++;
                            Unlock(q, entity, e, countAttempt: true);
                        }
                    }
                    foreach (var e in q.Active.Entries.Where(e => e.LockToken is null && e.ExpiresAt is { } x && x <= now).ToList())
                    {
                        q.Active.Entries.Remove(e);
                        if (q.Options.DeadLetteringOnMessageExpiration)
                            MoveToDeadLetter(q, e, "TTLExpiredException", "The message expired and was dead lettered.");
                    }
                }
                PumpAll();
            }
        }
    }
}

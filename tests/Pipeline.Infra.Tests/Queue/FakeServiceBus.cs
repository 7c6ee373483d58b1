using System.Collections.Concurrent;
using Amqp;
using Amqp.Framing;
using Amqp.Listener;
using Amqp.Types;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Tests.Services;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>
/// A loopback AMQP 1.0 peer that speaks the Service Bus dialect our client uses: SASL PLAIN (SAS key) or SASL
/// ANONYMOUS + $cbs put-token; queues with peek-lock, x-opt-* annotations, lock tokens, header delivery-count,
/// accepted / modified / rejected(com.microsoft:dead-letter) / released dispositions; "&lt;queue&gt;/$management"
/// renew-lock and update-disposition; the "&lt;queue&gt;/$deadletterqueue" sub-queue. Queue semantics (lock expiry,
/// max delivery count, duplicate detection, schedule, TTL) come from an <see cref="InProcessJobQueue"/> per queue;
/// this class is the wire mapping. Faults can be injected: lose locks, detach receiver links, drop connections.
/// </summary>
public sealed class FakeServiceBus : IAsyncDisposable
{
    public const string KeyName = "RootManageSharedAccessKey";
    public const string Key = "s3cr3t/Key+with=chars";

    private readonly ContainerHost _host;
    private readonly ConcurrentDictionary<string, InProcessJobQueue> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<Guid, (InProcessJobQueue Queue, ReceivedMessage Message)> _locked = new();
    private readonly ConcurrentDictionary<ListenerLink, byte> _receiverLinks = new();
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private readonly ConcurrentDictionary<Connection, ConcurrentDictionary<string, DateTimeOffset>> _tokens = new();
    private readonly QueueEntityOptions _entity;
    private readonly Func<string, bool> _validateToken;
    private readonly CancellationTokenSource _stop = new();
    private int _putTokens;
    private int _renewals;
    private int _rejectNextRenewals;

    private FakeServiceBus(int port, bool useCbs, QueueEntityOptions entity, Func<string, bool>? validateToken)
    {
        Port = port;
        UseCbs = useCbs;
        _entity = entity;
        _validateToken = validateToken ?? (t => t.StartsWith("valid-", StringComparison.Ordinal));
        _host = new ContainerHost(new Address($"amqp://127.0.0.1:{port}"));
        var listener = _host.Listeners[0];
        if (useCbs) listener.SASL.EnableAnonymousMechanism = true;
        else listener.SASL.EnablePlainMechanism(KeyName, Key);
        _host.RegisterRequestProcessor("$cbs", new CbsProcessor(this));
        _host.RegisterLinkProcessor(new QueueLinks(this));
    }

    public int Port { get; }
    public bool UseCbs { get; }
    public string Endpoint => $"amqp://127.0.0.1:{Port}";
    public int PutTokenCount => Volatile.Read(ref _putTokens);
    public int RenewalCount => Volatile.Read(ref _renewals);
    public int OpenConnections => _connections.Keys.Count(c => !c.IsClosed);

    public static FakeServiceBus Start(QueueEntityOptions entity, bool useCbs = false, Func<string, bool>? validateToken = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var bus = new FakeServiceBus(LocalProcess.FreePort(), useCbs, entity, validateToken);
            try
            {
                bus._host.Open();
                return bus;
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 5)
            {
                bus._host.Close();
            }
        }
    }

    /// <summary>The broker-side queue (created on first use), to inspect counts.</summary>
    public InProcessJobQueue Queue(string name)
    {
        if (_queues.TryGetValue(name, out var q)) return q;
        lock (_queues)
        {
            if (_queues.TryGetValue(name, out q)) return q;
            q = new InProcessJobQueue(name, _entity);
            RegisterManagement(name);
            _queues[name] = q;
            return q;
        }
    }

    // ---- fault injection ----

    /// <summary>Every held lock is lost: the messages become available again and renewals answer 410.</summary>
    public void LoseAllLocks()
    {
        foreach (var (token, entry) in _locked.ToArray())
        {
            _locked.TryRemove(token, out _);
            try { entry.Queue.AbandonAsync(entry.Message).GetAwaiter().GetResult(); } catch (MessageLockLostException) { }
        }
    }

    /// <summary>The next <paramref name="count"/> renew-lock requests answer 410 (lock lost) without touching the message.</summary>
    public void FailNextRenewals(int count) => Interlocked.Exchange(ref _rejectNextRenewals, count);

    /// <summary>Detaches every receiver link with amqp:link:detach-forced.</summary>
    public void DetachReceiverLinks()
    {
        foreach (var link in _receiverLinks.Keys.ToArray())
            if (!link.IsClosed) link.Close(TimeSpan.Zero, new Error(ErrorCode.DetachForced) { Description = "Injected link detach." });
    }

    /// <summary>Closes every client connection with amqp:connection:forced (held locks stay until they expire, as on Service Bus).</summary>
    public void DropConnections()
    {
        foreach (var c in _connections.Keys.ToArray())
            if (!c.IsClosed) try { c.Close(TimeSpan.Zero, new Error(ErrorCode.ConnectionForced) { Description = "Injected connection drop." }); } catch (AmqpException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        DropConnections();
        _host.Close();
    }

    // ---- queue links ----

    private static (string Queue, SubQueue Sub) ParseEntity(string address)
    {
        const string dlq = "/$deadletterqueue";
        return address.EndsWith(dlq, StringComparison.OrdinalIgnoreCase)
            ? (address[..^dlq.Length], SubQueue.DeadLetter)
            : (address, SubQueue.None);
    }

    private bool Authorized(Connection connection, string entityPath)
    {
        if (!UseCbs) return true; // SASL PLAIN already checked the key
        if (!_tokens.TryGetValue(connection, out var audiences)) return false;
        var now = DateTimeOffset.UtcNow;
        return audiences.Any(kv => kv.Value > now && kv.Key.TrimEnd('/').EndsWith("/" + entityPath, StringComparison.OrdinalIgnoreCase));
    }

    private sealed class QueueLinks(FakeServiceBus bus) : ILinkProcessor
    {
        public void Process(AttachContext attachContext)
        {
            var attach = attachContext.Attach;
            var link = attachContext.Link;
            var connection = link.Session.Connection;
            if (bus._connections.TryAdd(connection, 0))
                connection.AddClosedCallback((_, _) => { bus._connections.TryRemove(connection, out _); bus._tokens.TryRemove(connection, out _); });
            // attach.Role == true: the client is the receiver, the address is in Source.
            var address = attach.Role ? ((Source)attach.Source).Address : ((Target)attach.Target).Address;
            if (!bus.Authorized(connection, address))
            {
                attachContext.Complete(new Error(ErrorCode.UnauthorizedAccess) { Description = $"No valid token for '{address}': put-token on $cbs first." });
                return;
            }
            var (queueName, sub) = ParseEntity(address);
            var queue = bus.Queue(queueName);
            if (attach.Role)
            {
                if (attach.SndSettleMode != SenderSettleMode.Unsettled && attach.SndSettleMode != SenderSettleMode.Mixed)
                {
                    attachContext.Complete(new Error(ErrorCode.NotImplemented) { Description = "This peer only does peek-lock (snd-settle-mode unsettled)." });
                    return;
                }
                var pump = new DeliveryPump(bus, queue, sub, link);
                link.InitializeSender((delta, _, _) => pump.AddCredit(delta), (msg, state, _, _) => pump.OnDisposition(msg, state), pump);
                bus._receiverLinks.TryAdd(link, 0);
                link.AddClosedCallback((_, _) => { bus._receiverLinks.TryRemove(link, out _); pump.Stop(); });
                link.CompleteAttach(attach, null);
            }
            else
            {
                if (sub != SubQueue.None)
                {
                    attachContext.Complete(new Error(ErrorCode.NotAllowed) { Description = "Cannot send to a dead-letter queue." });
                    return;
                }
                link.InitializeReceiver(100, (l, msg, _, _) =>
                {
                    try
                    {
                        queue.SendAsync(ToQueueMessage(msg)).GetAwaiter().GetResult();
                        l.DisposeMessage(msg, new Accepted(), true);
                    }
                    catch (ArgumentException ex)
                    {
                        l.DisposeMessage(msg, new Rejected { Error = new Error(ErrorCode.InvalidField) { Description = ex.Message } }, true);
                    }
                }, null);
                link.CompleteAttach(attach, null);
            }
        }
    }

    private static QueueMessage ToQueueMessage(Message m)
    {
        var body = m.BodySection switch
        {
            Data d => d.Binary,
            AmqpValue v when v.Value is byte[] b => b,
            AmqpValue v when v.Value is string s => System.Text.Encoding.UTF8.GetBytes(s),
            _ => [],
        };
        var props = new Dictionary<string, object?>();
        if (m.ApplicationProperties is not null)
            foreach (var kv in m.ApplicationProperties.Map) props[kv.Key.ToString()!] = kv.Value;
        DateTimeOffset? scheduled = null;
        if (m.MessageAnnotations?.Map.TryGetValue(new Symbol("x-opt-scheduled-enqueue-time"), out var at) == true && at is DateTime dt)
            scheduled = new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc));
        return new QueueMessage
        {
            MessageId = m.Properties?.MessageId ?? throw new ArgumentException("message-id is required (duplicate detection is on)."),
            Body = body,
            ContentType = m.Properties?.ContentType?.ToString(),
            Subject = m.Properties?.Subject,
            CorrelationId = m.Properties?.CorrelationId,
            ApplicationProperties = props,
            TimeToLive = m.Header is { Ttl: > 0 } h ? TimeSpan.FromMilliseconds(h.Ttl) : null,
            ScheduledEnqueueTime = scheduled,
        };
    }

    /// <summary>Turns link credit into receives from the queue and dispositions into settlements.</summary>
    private sealed class DeliveryPump
    {
        private readonly FakeServiceBus _bus;
        private readonly InProcessJobQueue _queue;
        private readonly SubQueue _sub;
        private readonly ListenerLink _link;
        private readonly CancellationTokenSource _stop;
        private readonly object _creditLock = new();
        private int _credit;
        private TaskCompletionSource _creditChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DeliveryPump(FakeServiceBus bus, InProcessJobQueue queue, SubQueue sub, ListenerLink link)
        {
            _bus = bus;
            _queue = queue;
            _sub = sub;
            _link = link;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(bus._stop.Token);
            _ = Task.Run(RunAsync);
        }

        // Mirrors ListenerLink's own accounting: a positive delta adds credit, a non-positive one means the peer cut it to zero.
        public void AddCredit(int delta)
        {
            lock (_creditLock)
            {
                _credit = delta > 0 ? _credit + delta : 0;
                _creditChanged.TrySetResult();
                _creditChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        public void Stop() => _stop.Cancel();

        private async Task RunAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    Task changed;
                    lock (_creditLock) changed = _creditChanged.Task;
                    if (Volatile.Read(ref _credit) <= 0)
                    {
                        await changed.WaitAsync(_stop.Token);
                        continue;
                    }
                    var batch = await _queue.ReceiveAsync(1, TimeSpan.FromMilliseconds(100), _sub, _stop.Token);
                    if (batch.Count == 0) continue;
                    var m = batch[0];
                    bool send;
                    lock (_creditLock)
                    {
                        send = _credit > 0 && !_link.IsClosed;
                        if (send) _credit--;
                    }
                    if (!send)
                    {
                        // The client withdrew its credit (or left) while we were taking the message: put it back uncounted.
                        await _queue.ReleaseAsync(m);
                        continue;
                    }
                    _bus._locked[m.LockToken] = (_queue, m);
                    _link.SendMessage(ToAmqp(m));
                }
            }
            catch (OperationCanceledException) { }
            catch (AmqpException) { }
            catch (ObjectDisposedException) { }
            catch (MessageLockLostException) { }
        }

        public void OnDisposition(Message message, DeliveryState state)
        {
            if (message.MessageAnnotations?.Map.TryGetValue(new Symbol("x-opt-lock-token"), out var t) != true || t is not Guid token) return;
            // A closing link "releases" its unsettled deliveries locally; Service Bus instead keeps such locks until they
            // expire (or are settled by lock token over $management), so ignore that synthetic outcome.
            if (state is Released && _link.IsClosed) return;
            if (!_bus._locked.TryRemove(token, out var entry)) return; // lock already lost: the settlement is void
            try
            {
                switch (state)
                {
                    case Accepted:
                        entry.Queue.CompleteAsync(entry.Message).GetAwaiter().GetResult();
                        break;
                    case Rejected r when r.Error?.Condition?.ToString() == "com.microsoft:dead-letter":
                        entry.Queue.DeadLetterAsync(entry.Message,
                            r.Error.Info?.TryGetValue(new Symbol("DeadLetterReason"), out var reason) == true ? reason?.ToString() ?? "DeadLettered" : "DeadLettered",
                            r.Error.Info?.TryGetValue(new Symbol("DeadLetterErrorDescription"), out var d) == true ? d?.ToString() : r.Error.Description).GetAwaiter().GetResult();
                        break;
                    case Rejected r:
                        entry.Queue.DeadLetterAsync(entry.Message, r.Error?.Condition?.ToString() ?? "Rejected", r.Error?.Description).GetAwaiter().GetResult();
                        break;
                    default: // modified (abandon) and released
                        entry.Queue.AbandonAsync(entry.Message).GetAwaiter().GetResult();
                        break;
                }
            }
            catch (MessageLockLostException) { }
        }

        private static Message ToAmqp(ReceivedMessage m)
        {
            var msg = new Message
            {
                BodySection = new Data { Binary = m.Body.ToArray() },
                Header = new Header { DeliveryCount = (uint)(m.DeliveryCount - 1), Durable = true },
                Properties = new Properties { MessageId = m.MessageId, Subject = m.Subject, CorrelationId = m.CorrelationId },
                MessageAnnotations = new MessageAnnotations(),
                ApplicationProperties = new ApplicationProperties(),
            };
            if (m.ContentType is not null) msg.Properties.ContentType = new Symbol(m.ContentType);
            if (m.TimeToLive is { } ttl) msg.Header.Ttl = (uint)ttl.TotalMilliseconds;
            msg.MessageAnnotations[new Symbol("x-opt-lock-token")] = m.LockToken;
            msg.MessageAnnotations[new Symbol("x-opt-sequence-number")] = m.SequenceNumber;
            msg.MessageAnnotations[new Symbol("x-opt-enqueued-time")] = m.EnqueuedTime.UtcDateTime;
            msg.MessageAnnotations[new Symbol("x-opt-locked-until")] = m.LockedUntil.UtcDateTime;
            foreach (var (k, v) in m.ApplicationProperties) msg.ApplicationProperties[k] = v;
            return msg;
        }
    }

    // ---- $management and $cbs ----

    private void RegisterManagement(string queue)
    {
        _host.RegisterRequestProcessor(queue + "/$management", new ManagementProcessor(this, queue));
        _host.RegisterRequestProcessor(queue + "/$deadletterqueue/$management", new ManagementProcessor(this, queue + "/$deadletterqueue"));
    }

    private static Message Reply(Message request, int status, string description, object? body = null)
    {
        var reply = new Message(body ?? new Map())
        {
            Properties = new Properties { CorrelationId = request.Properties?.MessageId },
            ApplicationProperties = new ApplicationProperties(),
        };
        reply.ApplicationProperties["statusCode"] = status;
        reply.ApplicationProperties["statusDescription"] = description;
        return reply;
    }

    private sealed class ManagementProcessor(FakeServiceBus bus, string entity) : IRequestProcessor
    {
        public int Credit => 100;

        public void Process(RequestContext requestContext)
        {
            var req = requestContext.Message;
            if (!bus.Authorized(requestContext.Link.Session.Connection, entity + "/$management") && !bus.Authorized(requestContext.Link.Session.Connection, entity))
            {
                requestContext.Complete(Reply(req, 401, "Unauthorized: put-token first."));
                return;
            }
            var op = req.ApplicationProperties?["operation"]?.ToString();
            var body = req.Body as Map;
            var tokens = body?["lock-tokens"] as Guid[] ?? [];
            switch (op)
            {
                case "com.microsoft:renew-lock":
                    Interlocked.Increment(ref bus._renewals);
                    if (Interlocked.Decrement(ref bus._rejectNextRenewals) >= 0)
                    {
                        requestContext.Complete(Reply(req, 410, "The lock supplied is invalid (injected)."));
                        return;
                    }
                    var expirations = new List<DateTime>();
                    foreach (var t in tokens)
                    {
                        if (!bus._locked.TryGetValue(t, out var e))
                        {
                            requestContext.Complete(Reply(req, 410, $"The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Lock token: {t}"));
                            return;
                        }
                        try
                        {
                            expirations.Add(e.Queue.RenewLockAsync(e.Message).GetAwaiter().GetResult().UtcDateTime);
                        }
                        catch (MessageLockLostException ex)
                        {
                            bus._locked.TryRemove(t, out _);
                            requestContext.Complete(Reply(req, 410, ex.Message));
                            return;
                        }
                    }
                    requestContext.Complete(Reply(req, 200, "OK", new Map { ["expirations"] = expirations.ToArray() }));
                    return;
                case "com.microsoft:update-disposition":
                    var status = body?["disposition-status"]?.ToString();
                    foreach (var t in tokens)
                    {
                        if (!bus._locked.TryRemove(t, out var e))
                        {
                            requestContext.Complete(Reply(req, 410, $"The lock supplied is invalid. Lock token: {t}"));
                            return;
                        }
                        try
                        {
                            switch (status)
                            {
                                case "completed": e.Queue.CompleteAsync(e.Message).GetAwaiter().GetResult(); break;
                                case "abandoned": e.Queue.AbandonAsync(e.Message).GetAwaiter().GetResult(); break;
                                case "suspended":
                                    e.Queue.DeadLetterAsync(e.Message, body?["deadletter-reason"]?.ToString() ?? "DeadLettered", body?["deadletter-description"]?.ToString()).GetAwaiter().GetResult();
                                    break;
                                default:
                                    requestContext.Complete(Reply(req, 400, $"Unsupported disposition-status '{status}'."));
                                    return;
                            }
                        }
                        catch (MessageLockLostException ex)
                        {
                            requestContext.Complete(Reply(req, 410, ex.Message));
                            return;
                        }
                    }
                    requestContext.Complete(Reply(req, 200, "OK"));
                    return;
                default:
                    requestContext.Complete(Reply(req, 501, $"Operation '{op}' is not implemented by the test peer."));
                    return;
            }
        }
    }

    private sealed class CbsProcessor(FakeServiceBus bus) : IRequestProcessor
    {
        public int Credit => 100;

        public void Process(RequestContext requestContext)
        {
            var req = requestContext.Message;
            var ap = req.ApplicationProperties;
            string Status(int code, string d)
            {
                var reply = new Message("")
                {
                    Properties = new Properties { CorrelationId = req.Properties?.MessageId },
                    ApplicationProperties = new ApplicationProperties(),
                };
                reply.ApplicationProperties["status-code"] = code;
                reply.ApplicationProperties["status-description"] = d;
                requestContext.Complete(reply);
                return d;
            }
            if (ap?["operation"]?.ToString() != "put-token") { Status(400, "only put-token"); return; }
            var type = ap["type"]?.ToString();
            if (type is not ("jwt" or "servicebus.windows.net:sastoken")) { Status(400, $"unknown token type '{type}'"); return; }
            var audience = ap["name"]?.ToString() ?? "";
            if (req.Body is not string token || !bus._validateToken(token)) { Status(401, "invalid token"); return; }
            var expires = ap.Map.TryGetValue("expiration", out var exp) && exp is DateTime dt ? new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)) : DateTimeOffset.UtcNow.AddHours(1);
            var conn = requestContext.Link.Session.Connection;
            bus._tokens.GetOrAdd(conn, _ => new ConcurrentDictionary<string, DateTimeOffset>(StringComparer.OrdinalIgnoreCase))[audience] = expires;
            Interlocked.Increment(ref bus._putTokens);
            Status(202, "Accepted");
        }
    }
}

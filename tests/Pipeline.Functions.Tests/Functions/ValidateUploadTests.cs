using System.Text;
using Pipeline.Functions.Handlers;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>ValidateUpload driven with the blob-trigger payload the host sends (base64 content + metadata).</summary>
public sealed class ValidateUploadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AcceptedSelfieBecomesOneQueuedTranslationJobWithTheJobIdAsMessageId()
    {
        await using var host = new HandlerHost();
        var image = TestImages.Jpeg();
        var (status, response) = await host.InvokeAsync("ValidateUpload", Payloads.Blob("selfies/alice.jpg", image, etag: "0x8DD01"));

        Assert.Equal(200, status);
        var verdict = response["ReturnValue"]!;
        Assert.True((bool)verdict["Accepted"]!, response.ToJsonString());
        Assert.Equal(320, (int)verdict["Image"]!["Width"]!);
        Assert.Equal(240, (int)verdict["Image"]!["Height"]!);

        var messages = await host.PeekAllAsync("jobs-translate");
        var message = Assert.Single(messages);
        var envelope = JobEnvelope.Parse(message.Body.Span);
        Assert.Equal(envelope.JobId, message.MessageId);
        Assert.Equal(JobEnvelope.ContentType, message.ContentType);
        var job = Assert.IsType<TranslationJob>(envelope.Job);
        Assert.Equal(TranslationVariant.CouncilSelfieToAnime, job.Variant);
        Assert.Equal(new BlobRef("uploads/selfies/alice.jpg", "0x8DD01"), job.Input);
        // The id is the deterministic id of the body: recomputing it gives the same value.
        Assert.Equal(JobIds.For(job), envelope.JobId);

        var stored = await host.Store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(envelope.JobId), Ct);
        Assert.NotNull(stored);
        Assert.Equal(JobState.Queued, stored!.State);
        Assert.Empty(await host.PeekAllAsync("jobs-project"));
        Assert.Null(await host.Store.GetPropertiesAsync(BlobLayout.Rejection("selfies/alice.jpg"), Ct));
    }

    [Fact]
    public async Task MetadataCanAskForProjectionAsWell()
    {
        await using var host = new HandlerHost();
        var payload = Payloads.Blob("selfies/bob.png", TestImages.Png(), contentType: "image/png",
            metadata: new Dictionary<string, string> { ["job"] = "translate,project", ["outputs"] = "3", ["steps"] = "200", ["init"] = "Mean" });
        var (status, _) = await host.InvokeAsync("ValidateUpload", payload);
        Assert.Equal(200, status);
        var translate = JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-translate")).Body.Span);
        var project = JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-project")).Body.Span);
        Assert.Equal(3, Assert.IsType<TranslationJob>(translate.Job).Outputs);
        Assert.Equal(200, Assert.IsType<ProjectionJob>(project.Job).Steps);
        Assert.Equal("mean", Assert.IsType<ProjectionJob>(project.Job).Init);
        Assert.NotEqual(translate.JobId, project.JobId);
    }

    [Fact]
    public async Task ProjectionWithoutStepsOrInitLeavesBothToTheWorker()
    {
        // Unset, the worker starts from the model's encoder when there is one (100 steps) and from the mean otherwise (1000).
        await using var host = new HandlerHost();
        var payload = Payloads.Blob("project/dave.png", TestImages.Png(), contentType: "image/png");
        var (status, _) = await host.InvokeAsync("ValidateUpload", payload);
        Assert.Equal(200, status);
        var job = Assert.IsType<ProjectionJob>(JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-project")).Body.Span).Job);
        Assert.Null(job.Steps);
        Assert.Null(job.Init);
    }

    [Fact]
    public async Task ReplayOfTheSameEventProducesNoSecondJob()
    {
        // Duplicate detection off: the handler itself must not create a second job.
        await using var host = new HandlerHost(queueOptions: new QueueEntityOptions { RequiresDuplicateDetection = false });
        var payload = Payloads.Blob("selfies/carol.jpg", TestImages.Jpeg(), etag: "0x8DD02");
        await host.InvokeAsync("ValidateUpload", payload);
        var first = Assert.Single(await host.PeekAllAsync("jobs-translate"));
        // The worker picks it up (status leaves "queued"), then Event Grid redelivers the same event.
        var q = host.Queue("jobs-translate");
        var taken = Assert.Single(await q.ReceiveAsync(1, TimeSpan.FromSeconds(1), cancellationToken: Ct));
        await host.Store.PutJsonAsync(BlobLayout.StatusDocument(first.MessageId),
            new JobStatus { JobId = first.MessageId, Kind = JobKind.Translation, State = JobState.Running, UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken: Ct);
        await q.CompleteAsync(taken, Ct);

        var (status, response) = await host.InvokeAsync("ValidateUpload", payload);
        Assert.Equal(200, status);
        Assert.Empty(await host.PeekAllAsync("jobs-translate"));
        Assert.Contains(response["Logs"]!.AsArray(), l => ((string)l!).Contains("alreadyknown", StringComparison.Ordinal));
        var st = await host.Store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(first.MessageId), Ct);
        Assert.Equal(JobState.Running, st!.State); // not reset to queued
    }

    [Fact]
    public async Task ReplayWhileStillQueuedResendsTheSameMessageIdWhichServiceBusDropsAsDuplicate()
    {
        await using var host = new HandlerHost(); // duplicate detection on, as the bicep configures the queues
        var payload = Payloads.Blob("selfies/dave.jpg", TestImages.Jpeg(), etag: "0x8DD03");
        await host.InvokeAsync("ValidateUpload", payload);
        var (_, response) = await host.InvokeAsync("ValidateUpload", payload);
        Assert.Single(await host.PeekAllAsync("jobs-translate"));
        Assert.Contains(response["Logs"]!.AsArray(), l => ((string)l!).Contains("resent", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ANewVersionOfTheUploadIsANewJob()
    {
        await using var host = new HandlerHost();
        await host.InvokeAsync("ValidateUpload", Payloads.Blob("selfies/erin.jpg", TestImages.Jpeg(), etag: "0x1"));
        await host.InvokeAsync("ValidateUpload", Payloads.Blob("selfies/erin.jpg", TestImages.Jpeg(), etag: "0x2"));
        var ids = (await host.PeekAllAsync("jobs-translate")).Select(m => m.MessageId).ToList();
        Assert.Equal(2, ids.Distinct().Count());
    }

    public static TheoryData<string, string, string> BadUploads() => new()
    {
        { "truncated-jpeg", "selfies/truncated.jpg", "corrupt" },
        { "truncated-png", "selfies/truncated.png", "corrupt" },
        { "corrupted-png", "selfies/flipped.png", "corrupt" },
        { "zero-bytes", "selfies/empty.jpg", "not_an_image" },
        { "png-claiming-30000", "selfies/bomb.png", "dimensions_too_large" },
        { "html-named-png", "selfies/page.png", "not_an_image" },
        { "svg", "selfies/vector.svg", "not_an_image" },
        { "text-named-jpg", "selfies/notes.jpg", "not_an_image" },
        { "path-traversal", "../../etc/passwd.jpg", "bad_name" },
        { "backslash-traversal", "selfies\\..\\..\\x.jpg", "bad_name" },
        { "fifty-megabytes", "selfies/huge.jpg", "too_large" },
        { "too-small", "selfies/tiny.png", "too_small" },
        { "bmp", "selfies/old.bmp", "unsupported_format" },
        { "unknown-job", "selfies/ok.jpg", "bad_request" },
        { "outputs-out-of-range", "selfies/ok2.jpg", "bad_request" },
    };

    [Theory, MemberData(nameof(BadUploads))]
    public async Task BadUploadsAreRejectedWithTheirCodeAndNoJob(string kind, string name, string code)
    {
        await using var host = new HandlerHost();
        var (content, metadata, declared) = BadUpload(kind);
        // The upload blob exists (Event Grid fires after the write); it must come out untouched.
        string? etagBefore = null;
        if (BlobNames.IsSafeRelative(name, out _) && kind != "fifty-megabytes")
            etagBefore = (await host.Store.PutBytesAsync(BlobLayout.Upload(name), content, cancellationToken: Ct)).ETag;

        var (status, response) = await host.InvokeAsync("ValidateUpload", Payloads.Blob(name, content, metadata: metadata, declaredLength: declared));

        Assert.Equal(200, status);
        var verdict = response["ReturnValue"]!;
        Assert.False((bool)verdict["Accepted"]!, response.ToJsonString());
        Assert.Equal(code, (string?)verdict["Code"]);
        Assert.Empty(await host.PeekAllAsync("jobs-translate"));
        Assert.Empty(await host.PeekAllAsync("jobs-project"));

        var rejection = await host.Store.GetJsonAsync<Rejection>(ValidateUploadHandler.RejectionPath(name, "0x8DD0A1B2C3D4E5F"), Ct);
        Assert.NotNull(rejection);
        Assert.Equal(code, rejection!.Details!["code"]);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
        if (etagBefore is not null)
            Assert.Equal(etagBefore, (await host.Store.GetPropertiesAsync(BlobLayout.Upload(name), Ct))!.ETag);
        // Nothing was written outside the store's areas (no traversal).
        Assert.All(Directory.EnumerateFiles(host.Root, "*", SearchOption.AllDirectories),
            f => Assert.StartsWith(Path.GetFullPath(host.Root), Path.GetFullPath(f), StringComparison.Ordinal));
    }

    private static (byte[] Content, Dictionary<string, string>? Metadata, long? Declared) BadUpload(string kind)
    {
        var jpeg = TestImages.Jpeg(640, 480);
        var png = TestImages.Png(640, 480);
        switch (kind)
        {
            case "truncated-jpeg": return (jpeg[..(jpeg.Length / 2)], null, null);
            case "truncated-png": return (png[..(png.Length / 2)], null, null);
            case "corrupted-png":
                var flipped = (byte[])png.Clone();
                for (int i = 100; i < flipped.Length - 20; i += 7) flipped[i] ^= 0x5A;
                return (flipped, null, null);
            case "zero-bytes": return ([], null, null);
            case "png-claiming-30000": return (TestImages.PngClaiming(30000, 30000), null, null);
            case "html-named-png": return (Encoding.UTF8.GetBytes("<!doctype html><html><body><script>alert(1)</script></body></html>"), null, null);
            case "svg": return (Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4000\" height=\"4000\"><rect width=\"10\" height=\"10\"/></svg>"), null, null);
            case "text-named-jpg": return (Encoding.UTF8.GetBytes("just some notes, not a photo"), null, null);
            case "path-traversal" or "backslash-traversal": return (jpeg, null, null);
            case "fifty-megabytes":
                var big = new byte[50 * 1024 * 1024];
                jpeg.CopyTo(big, 0);
                return (big, null, big.Length);
            case "too-small": return (TestImages.Png(40, 30), null, null);
            case "bmp":
                var bmp = new byte[64];
                "BM"u8.CopyTo(bmp);
                return (bmp, null, null);
            case "unknown-job": return (jpeg, new Dictionary<string, string> { ["job"] = "mine-bitcoin" }, null);
            case "outputs-out-of-range": return (jpeg, new Dictionary<string, string> { ["outputs"] = "99" }, null);
            default: throw new ArgumentException($"unknown bad-upload kind {kind}");
        }
    }

    [Fact]
    public async Task AMalformedInvocationIsA400NotACrash()
    {
        await using var host = new HandlerHost();
        var (status, body) = await host.InvokeAsync("ValidateUpload", "{\"Data\":{\"upload\":\"%%%not base64\"},\"Metadata\":{\"name\":\"selfies/x.jpg\"}}");
        Assert.Equal(400, status);
        Assert.Contains("base64", body.ToJsonString(), StringComparison.Ordinal);
    }
}

using System.Text;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>ValidateUpload called as the blob trigger calls it: content, name, and trigger metadata (ETag, length, user metadata).</summary>
public sealed class ValidateUploadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AcceptedSelfieBecomesOneQueuedTranslationJobWithTheJobIdAsMessageId()
    {
        await using var host = new FunctionsHost();
        var image = TestImages.Jpeg();
        var result = await host.UploadAsync("selfies/alice.jpg", image, etag: "0x8DD01");

        var verdict = result.Verdict;
        Assert.True(verdict.Accepted, verdict.Message);
        Assert.Equal(320, verdict.Image!.Width);
        Assert.Equal(240, verdict.Image.Height);
        Assert.Equal(PublishOutcome.Enqueued, Assert.Single(result.Published).Outcome);
        // The worker serializes a function's return value for the host (System.Text.Json): it must not throw.
        Assert.Contains("\"Accepted\":true", System.Text.Json.JsonSerializer.Serialize(result), StringComparison.Ordinal);

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
        await using var host = new FunctionsHost();
        var result = await host.UploadAsync("selfies/bob.png", TestImages.Png(), contentType: "image/png",
            metadata: new Dictionary<string, string> { ["job"] = "translate,project", ["outputs"] = "3", ["steps"] = "200", ["init"] = "Mean" });
        Assert.Equal(2, result.Published.Count);
        var translate = JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-translate")).Body.Span);
        var project = JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-project")).Body.Span);
        Assert.Equal(3, Assert.IsType<TranslationJob>(translate.Job).Outputs);
        Assert.Equal(200, Assert.IsType<ProjectionJob>(project.Job).Steps);
        Assert.Equal("mean", Assert.IsType<ProjectionJob>(project.Job).Init);
        Assert.NotEqual(translate.JobId, project.JobId);
    }

    [Fact]
    public async Task SelfieJobsCarryTheTargetDomainFeaturesForKidWhenConfiguredAndTheyHaveTwoOutputs()
    {
        await using var host = new FunctionsHost(settings: c => c["Pipeline:Uploads:SelfieReferenceFeatures"] = "datasets/anime/features.npz");
        await host.UploadAsync("selfies/ann.png", TestImages.Png(), contentType: "image/png", metadata: new Dictionary<string, string> { ["outputs"] = "4" });
        await host.UploadAsync("selfies/ben.png", TestImages.Png(), contentType: "image/png", metadata: new Dictionary<string, string> { ["outputs"] = "1" });
        var jobs = (await host.PeekAllAsync("jobs-translate")).Select(m => Assert.IsType<TranslationJob>(JobEnvelope.Parse(m.Body.Span).Job)).ToDictionary(j => j.Input.Path);
        Assert.Equal("datasets/anime/features.npz", jobs["uploads/selfies/ann.png"].ReferenceFeatures?.Path);
        Assert.Null(jobs["uploads/selfies/ben.png"].ReferenceFeatures); // KID of one image does not exist
    }

    [Fact]
    public async Task ProjectionWithoutStepsOrInitLeavesBothToTheWorker()
    {
        // Unset, the worker starts from the model's encoder when there is one (100 steps) and from the mean otherwise (1000).
        await using var host = new FunctionsHost();
        var result = await host.UploadAsync("project/dave.png", TestImages.Png(), contentType: "image/png");
        Assert.Single(result.Published);
        var job = Assert.IsType<ProjectionJob>(JobEnvelope.Parse(Assert.Single(await host.PeekAllAsync("jobs-project")).Body.Span).Job);
        Assert.Null(job.Steps);
        Assert.Null(job.Init);
    }

    [Fact]
    public async Task ReplayOfTheSameEventProducesNoSecondJob()
    {
        // Duplicate detection off: the function itself must not create a second job.
        await using var host = new FunctionsHost(queueOptions: new QueueEntityOptions { RequiresDuplicateDetection = false });
        var image = TestImages.Jpeg();
        await host.UploadAsync("selfies/carol.jpg", image, etag: "0x8DD02");
        var first = Assert.Single(await host.PeekAllAsync("jobs-translate"));
        // The worker picks it up (status leaves "queued"), then Event Grid redelivers the same event.
        var q = host.Queue("jobs-translate");
        var taken = Assert.Single(await q.ReceiveAsync(1, TimeSpan.FromSeconds(1), cancellationToken: Ct));
        await host.Store.PutJsonAsync(BlobLayout.StatusDocument(first.MessageId),
            new JobStatus { JobId = first.MessageId, Kind = JobKind.Translation, State = JobState.Running, UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken: Ct);
        await q.CompleteAsync(taken, Ct);

        var replay = await host.UploadAsync("selfies/carol.jpg", image, etag: "0x8DD02");
        Assert.Empty(await host.PeekAllAsync("jobs-translate"));
        Assert.Equal(PublishOutcome.AlreadyKnown, Assert.Single(replay.Published).Outcome);
        Assert.Contains(host.Logs.Lines, l => l.Contains("alreadyknown", StringComparison.Ordinal));
        var st = await host.Store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(first.MessageId), Ct);
        Assert.Equal(JobState.Running, st!.State); // not reset to queued
    }

    [Fact]
    public async Task ReplayWhileStillQueuedResendsTheSameMessageIdWhichServiceBusDropsAsDuplicate()
    {
        await using var host = new FunctionsHost(); // duplicate detection on, as the bicep configures the queues
        var image = TestImages.Jpeg();
        await host.UploadAsync("selfies/dave.jpg", image, etag: "0x8DD03");
        var replay = await host.UploadAsync("selfies/dave.jpg", image, etag: "0x8DD03");
        Assert.Single(await host.PeekAllAsync("jobs-translate"));
        Assert.Equal(PublishOutcome.Resent, Assert.Single(replay.Published).Outcome);
    }

    [Fact]
    public async Task ANewVersionOfTheUploadIsANewJob()
    {
        await using var host = new FunctionsHost();
        await host.UploadAsync("selfies/erin.jpg", TestImages.Jpeg(), etag: "0x1");
        await host.UploadAsync("selfies/erin.jpg", TestImages.Jpeg(), etag: "0x2");
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
        // labels/ uploads are label maps (Pipeline.Imaging.Labels): one class id per pixel, in a PNG.
        { "label-map-in-colour", "labels/colour.png", "label_map_not_single_channel" },
        { "label-map-as-jpeg", "labels/photo.jpg", "label_map_not_png" },
    };

    [Theory, MemberData(nameof(BadUploads))]
    public async Task BadUploadsAreRejectedWithTheirCodeAndNoJob(string kind, string name, string code)
    {
        await using var host = new FunctionsHost();
        var (content, metadata, declared) = BadUpload(kind);
        // The upload blob exists (Event Grid fires after the write); it must come out untouched.
        string? etagBefore = null;
        if (BlobNames.IsSafeRelative(name, out _) && kind != "fifty-megabytes")
            etagBefore = (await host.Store.PutBytesAsync(BlobLayout.Upload(name), content, cancellationToken: Ct)).ETag;

        var result = await host.UploadAsync(name, content, metadata: metadata, declaredLength: declared);

        Assert.False(result.Verdict.Accepted);
        Assert.Equal(code, result.Verdict.Code);
        Assert.Empty(result.Published);
        Assert.Equal(ValidateUpload.RejectionPath(name, "0x8DD0A1B2C3D4E5F"), result.RejectionPath);
        Assert.Empty(await host.PeekAllAsync("jobs-translate"));
        Assert.Empty(await host.PeekAllAsync("jobs-project"));

        var rejection = await host.Store.GetJsonAsync<Rejection>(ValidateUpload.RejectionPath(name, "0x8DD0A1B2C3D4E5F"), Ct);
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
            case "label-map-in-colour": return (png, null, null);
            case "label-map-as-jpeg": return (jpeg, null, null);
            default: throw new ArgumentException($"unknown bad-upload kind {kind}");
        }
    }

    [Fact]
    public async Task TheNameComesFromTheTriggerMetadataWhenTheBindingHasNone()
    {
        // The host always binds {name}; without it the function falls back to the blob's Uri, as before.
        await using var host = new FunctionsHost();
        var data = new Dictionary<string, object?> { ["Uri"] = "https://stgandata.blob.core.windows.net/uploads/selfies/frank%20s.jpg" };
        var result = await host.Function<ValidateUpload>().RunAsync(TestImages.Jpeg(), new TestFunctionContext(ValidateUpload.Name, data, host.Services));
        Assert.Equal("selfies/frank s.jpg", result.Verdict.UploadId);
        // No ETag in the metadata: the stored blob's is used, so a new version of the upload is still a new job.
        await host.Store.PutBytesAsync("uploads/selfies/grace.jpg", TestImages.Jpeg(), cancellationToken: Ct);
        var etag = (await host.Store.GetPropertiesAsync("uploads/selfies/grace.jpg", Ct))!.ETag;
        var graces = await host.Function<ValidateUpload>().ValidateAsync(new UploadEvent("selfies/grace.jpg", TestImages.Jpeg()), Ct);
        var job = Assert.IsType<TranslationJob>(Assert.Single(graces.Published).Job.Job);
        Assert.Equal(etag.Trim('"'), job.Input.ETag);
    }
}

using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Tests.Contracts;

public sealed class JobContractTests
{
    private static readonly BlobRef Model = new("models/stylegan2-ffhq-256.pt");

    public static TheoryData<string> Kinds => new() { "projection", "translation-council", "translation-pix2pixhd", "augmentation", "metrics" };

    private static JobSpec Sample(string kind) => kind switch
    {
        "projection" => new ProjectionJob { Model = Model, Input = new BlobRef("uploads/me.jpg", "\"0x1\""), Steps = 200, WPlus = true, Seed = 7 },
        "translation-council" => new TranslationJob { Model = new BlobRef("models/council-selfie2anime.pt"), Variant = TranslationVariant.CouncilSelfieToAnime, Input = new BlobRef("uploads/selfie.png", "\"0x2\""), Outputs = 4, Seed = 3 },
        "translation-pix2pixhd" => new TranslationJob { Model = new BlobRef("models/pix2pixhd-cityscapes.pt"), Variant = TranslationVariant.Pix2PixHdLabelToImage, Input = new BlobRef("uploads/label.png", "\"0x3\""), InstanceMap = new BlobRef("uploads/inst.png", "\"0x4\""), CropFace = false },
        "augmentation" => new AugmentationBatchJob { Model = Model, BatchId = "nightly-2026-11-22", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.StyleMixing, Count = 8, Seed = 100, Truncation = 0.7, MixingCrossover = 4 },
        "metrics" => new MetricsJob { Model = Model, Metric = "fid50k_full", ReferenceStats = new BlobRef("models/ffhq-256-inception.npz"), Samples = 1000 },
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown sample kind"),
    };

    [Theory, MemberData(nameof(Kinds))]
    public void Envelope_round_trips_through_json_with_kind_discriminator(string kind)
    {
        var job = Sample(kind);
        var env = JobEnvelope.Create(job, source: "test", createdAt: new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        var bytes = env.ToUtf8();
        var parsed = JobEnvelope.Parse(bytes);

        Assert.Equal(env.JobId, parsed.JobId);
        Assert.Equal(job, parsed.Job);
        Assert.Equal(job.GetType(), parsed.Job.GetType());
        Assert.Equal(env.CreatedAt, parsed.CreatedAt);

        var node = JsonNode.Parse(bytes)!;
        Assert.Equal(1, (int)node["schemaVersion"]!);
        Assert.Equal(node["kind"]!.ToString(), node["job"]!["kind"]!.ToString());
        Assert.True(bytes.Length < 4096, "jobs carry blob references, never bytes");
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Serialization_gives_the_serializers_own_bytes_without_the_pooled_buffer(string kind)
    {
        // JobJson.ToUtf8 writes through an unpooled buffer (see its remarks); job ids hash these bytes, so they must
        // stay what SerializeToUtf8Bytes gave, escaping of non-ASCII and markup characters included.
        var job = Sample(kind) with { Model = new BlobRef("models/é<ü>&'\"\u2028.pt") };
        var env = JobEnvelope.Create(job, source: "tëst", createdAt: new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        Assert.Equal(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(env, JobJson.Options), JobJson.ToUtf8(env));
        Assert.Equal(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(job, JobJson.Options), JobJson.ToUtf8(job));
    }

    [Theory, MemberData(nameof(Kinds))]
    public void Job_id_is_deterministic_safe_and_sensitive_to_every_input(string kind)
    {
        var job = Sample(kind);
        var id = JobIds.For(job);
        Assert.Equal(id, JobIds.For(Sample(kind)));
        Assert.True(BlobNames.IsSafeId(id, out var why), why);
        Assert.True(id.Length <= 128);
        Assert.True(id.Length >= 50, "at least 256 bits of hash");

        // Any parameter or input change gives another id; so does a key.
        JobSpec changed = job switch
        {
            ProjectionJob p => p with { Input = p.Input with { ETag = "\"0x9\"" } },
            TranslationJob t => t with { Seed = t.Seed + 1 },
            AugmentationBatchJob a => a with { Truncation = 0.5 },
            MetricsJob m => m with { Samples = 999 },
            _ => throw new InvalidOperationException(),
        };
        Assert.NotEqual(id, JobIds.For(changed));
        Assert.NotEqual(id, JobIds.For(job, new JobIdOptions { Key = Encoding.UTF8.GetBytes("secret") }));
        Assert.Equal(JobIds.For(job, new JobIdOptions { Key = [1, 2, 3] }), JobIds.For(job, new JobIdOptions { Key = [1, 2, 3] }));
    }

    [Fact]
    public void Job_id_differs_between_the_two_translation_variants_and_kinds()
    {
        var ids = new[] { "projection", "translation-council", "translation-pix2pixhd", "augmentation", "metrics" }.Select(k => JobIds.For(Sample(k))).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.StartsWith("prj-", ids[0]);
        Assert.StartsWith("trn-", ids[1]);
        Assert.StartsWith("aug-", ids[3]);
        Assert.StartsWith("met-", ids[4]);
    }

    [Fact]
    public void Parse_rejects_future_schema_version_kind_mismatch_unknown_kind_and_garbage()
    {
        var env = JobEnvelope.Create(Sample("projection"));
        var node = JsonNode.Parse(env.ToUtf8())!;

        node["schemaVersion"] = 2;
        var ex = Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse(Encoding.UTF8.GetBytes(node.ToJsonString())));
        Assert.Contains("schema version 2", ex.Message);

        node["schemaVersion"] = 1;
        node["kind"] = "metrics";
        Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse(Encoding.UTF8.GetBytes(node.ToJsonString())));

        node["kind"] = "projection";
        node["job"]!["kind"] = "teleport";
        Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse(Encoding.UTF8.GetBytes(node.ToJsonString())));

        node["job"]!["kind"] = "projection";
        node["jobId"] = "../../etc";
        Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse(Encoding.UTF8.GetBytes(node.ToJsonString())));

        Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse("not json"u8));
        Assert.Throws<InvalidJobException>(() => JobEnvelope.Parse("null"u8));
    }

    [Fact]
    public void Result_status_rejection_and_manifest_round_trip()
    {
        var job = (AugmentationBatchJob)Sample("augmentation");
        var id = JobIds.For(job);
        var now = new DateTimeOffset(2026, 11, 22, 1, 2, 3, TimeSpan.Zero);
        var result = new JobResult
        {
            JobId = id, Kind = JobKind.Augmentation, Job = job, StartedAt = now, FinishedAt = now.AddSeconds(3),
            Outputs = [new OutputBlob(BlobLayout.DatasetItem(job.BatchId, "000000.png"), "image/png", 1234, "ab")],
            Metrics = new Dictionary<string, double> { ["secondsPerImage"] = 0.25 },
        };
        var back = JobJson.FromUtf8<JobResult>(JobJson.ToUtf8(result));
        Assert.Equal(result.Outputs, back.Outputs);
        Assert.Equal(job, back.Job);
        Assert.Equal(0.25, back.Metrics!["secondsPerImage"]);

        var status = new JobStatus { JobId = id, Kind = JobKind.Augmentation, State = JobState.Running, UpdatedAt = now, Attempt = 2, Progress = 0.5 };
        Assert.Equal(status, JobJson.FromUtf8<JobStatus>(JobJson.ToUtf8(status)));
        Assert.Contains("\"state\":\"running\"", Encoding.UTF8.GetString(JobJson.ToUtf8(status)));

        var rej = new Rejection { UploadId = "a/b.png", Upload = new BlobRef("uploads/a/b.png", "\"e\""), Reason = RejectionReason.DecompressionBomb, Message = "too many pixels", RejectedAt = now };
        var rejBack = JobJson.FromUtf8<Rejection>(JobJson.ToUtf8(rej));
        Assert.Equal(rej.Reason, rejBack.Reason);
        Assert.Equal(rej.Upload, rejBack.Upload);
    }
}

using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Engine.Council;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Hosting;
using TorchSharp;

namespace Pipeline.Worker.Jobs.Council;

/// <summary>
/// Council GAN selfie → anime jobs. <c>Model</c> is one member file (<c>…/b2a_gen_&lt;i&gt;_&lt;step&gt;.pt</c>, a council of one)
/// or a council prefix <c>…/&lt;8-digit step&gt;</c> (members <c>b2a_gen_0..n−1_&lt;step&gt;.pt</c> beside it); a <c>config.yaml</c> in the
/// same folder gives the architecture and native size. Outputs <c>output-&lt;i&gt;.png</c> plus <c>translation.json</c>
/// (member index and seeds), so the job can be replayed bit for bit.
/// </summary>
public sealed class CouncilTranslationHandler(EngineDevice device) : IJobHandler, IDisposable
{
    private const int MaxOutputs = 64, MaxMembers = 64;
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };
    private readonly ConcurrentDictionary<string, Lazy<CouncilTranslator>> _councils = new(StringComparer.Ordinal);

    public bool CanHandle(JobSpec job) => job is TranslationJob { Variant: TranslationVariant.CouncilSelfieToAnime };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (TranslationJob)context.Job;
        if (job.Outputs is < 1 or > MaxOutputs)
            throw new PermanentJobException($"Outputs = {job.Outputs}: a Council job draws 1 to {MaxOutputs} outputs");
        var council = await GetCouncilAsync(context, job, cancellationToken);

        var bytes = await context.ReadInputAsync(job.Input, cancellationToken);
        RgbImage image;
        try
        {
            image = CouncilImageIO.Decode(bytes, job.Input.Path);
        }
        catch (InvalidDataException e)
        {
            throw new PermanentJobException($"input '{job.Input.Path}' cannot be decoded: {e.Message}", e);
        }
        context.ReportProgress(0.1);

        var options = new TranslateOptions { NumStyles = job.Outputs, SeedBase = job.Seed, MemberSeed = unchecked((int)job.Seed), MaxBatch = context.MaxBatch };
        RgbImage[] outputs;
        TranslationRecord record;
        using (var scope = torch.NewDisposeScope())
        using (var t = council.Translate(image, 0, options))
        {
            outputs = t.Images();
            record = t.Record;
        }
        for (int i = 0; i < outputs.Length; i++)
        {
            await context.WriteOutputAsync($"output-{i}.png", CouncilImageIO.EncodePng(outputs[i]), "image/png", "output", cancellationToken);
            context.ReportProgress(0.1 + 0.9 * (i + 1) / outputs.Length);
        }
        var memberFile = record.Member < council.MemberFiles.Count ? Path.GetFileName(council.MemberFiles[record.Member]) : null;
        var doc = JsonSerializer.SerializeToUtf8Bytes(new { record, memberFile, councilSize = council.Members.Count, faceCropped = false }, Json);
        await context.WriteOutputAsync("translation.json", doc, "application/json", "record", cancellationToken);
        return new Dictionary<string, double>
        {
            ["outputs"] = outputs.Length,
            ["council_member"] = record.Member,
            ["council_size"] = council.Members.Count,
            ["z_seed"] = record.ZSeed,
            ["image_size"] = record.Width,
        };
    }

    private async Task<CouncilTranslator> GetCouncilAsync(JobContext context, TranslationJob job, CancellationToken ct)
    {
        var path = job.Model.Path;
        var dir = path.Contains('/', StringComparison.Ordinal) ? path[..path.LastIndexOf('/')] : "";
        var name = path[(path.LastIndexOf('/') + 1)..];
        var configBlob = await context.Store.GetBytesAsync(dir.Length == 0 ? "config.yaml" : dir + "/config.yaml", ct);
        CouncilConfig? config = null;
        if (configBlob is { } c)
        {
            try { config = CouncilConfig.Parse(System.Text.Encoding.UTF8.GetString(c.Bytes)); }
            catch (Exception e) when (e is CouncilConfigException or YamlDotNet.Core.YamlException)
            {
                throw new PermanentJobException($"config.yaml beside '{path}' is not a Council-GAN config: {e.Message}", e);
            }
        }
        var direction = config?.Direction ?? "b2a";

        var memberPaths = new List<string>();
        if (name.Length == 8 && name.All(char.IsAsciiDigit))
        {
            for (int i = 0; i < MaxMembers; i++)
            {
                var member = $"{dir}/{direction}_gen_{i}_{name}.pt";
                if (await context.Store.GetPropertiesAsync(member, ct) is null) break;
                memberPaths.Add(member);
            }
            if (memberPaths.Count == 0) throw new PermanentJobException($"no council members {dir}/{direction}_gen_<i>_{name}.pt in storage");
        }
        else
        {
            memberPaths.Add(path);
        }
        var files = new List<ModelCache.LocalModel>();
        foreach (var m in memberPaths) files.Add(await context.Models.GetFileAsync(new BlobRef(m), ct));

        int size = job.Size ?? config?.NewSize
            ?? throw new PermanentJobException($"no config.yaml beside '{path}' and no Size in the job: the image size is unknown");
        var key = string.Join(",", files.Select(f => f.Sha256)) + $"|{size}|{config?.Gen}";
        var lazy = _councils.GetOrAdd(key, _ => new Lazy<CouncilTranslator>(() => Build(files, config, direction, size)));
        try
        {
            return lazy.Value;
        }
        catch (Exception e) when (e is InvalidDataException or CouncilConfigException or ArgumentException or FileNotFoundException)
        {
            _councils.TryRemove(key, out _);
            throw new PermanentJobException($"model '{path}' cannot be used: {e.Message}", e);
        }
    }

    private CouncilTranslator Build(List<ModelCache.LocalModel> files, CouncilConfig? config, string direction, int size)
    {
        var dev = torch.device(device.Name);
        var members = new List<CouncilGenerator>();
        try
        {
            foreach (var f in files) members.Add(CouncilCheckpoint.LoadGenerator(f.LocalPath, config?.Gen, direction, dev));
            return new CouncilTranslator(members, size, config, files.Select(f => f.BlobPath).ToList(), dev);
        }
        catch
        {
            foreach (var m in members) m.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var c in _councils.Values.Where(l => l.IsValueCreated)) c.Value.Dispose();
    }
}

using System.Diagnostics;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Imaging.Labels;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Models;
using Pipeline.Worker.Operations.Label2Img;
using TorchSharp;

namespace Pipeline.Worker.Jobs.Pix2PixHD;

/// <summary>
/// Translation jobs of variant <see cref="TranslationVariant.Pix2PixHdLabelToImage"/>: label map (+ instance map) -> image.
/// <see cref="JobSpec.Model"/> names the generator (`.../latest_net_G.pth`) or the model folder (`models/pix2pixhd/`, the upload
/// default, meaning its `latest_net_G.pth`); `latest_net_E.pth`, `features_clustered_010.npy` and `opt.txt` beside it are used when present. Outputs: results/&lt;jobId&gt;/output-&lt;i&gt;.png, one style draw each.
/// </summary>
public sealed class Pix2PixHdJobHandler(EngineDevice device) : IJobHandler
{
    private static readonly string[] Siblings = ["latest_net_E.pth", "features_clustered_010.npy", "opt.txt"];

    public bool CanHandle(JobSpec job) => job is TranslationJob { Variant: TranslationVariant.Pix2PixHdLabelToImage };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (TranslationJob)context.Job;
        var sw = Stopwatch.StartNew();
        using var model = await LoadAsync(context, job.Model, cancellationToken);
        var translator = model.Model;
        context.ReportProgress(0.1);

        IdMap labels;
        IdMap? instances = null;
        LabelMapInfo info;
        try
        {
            // The maps as `pipeline label2img` reads them.
            var labelBytes = await context.ReadInputAsync(job.Input, cancellationToken);
            var instanceBytes = job.InstanceMap is null ? null : await context.ReadInputAsync(job.InstanceMap, cancellationToken);
            (labels, instances, info) = Label2ImgInput.Read(labelBytes, instanceBytes, translator.Options.LabelNc);
        }
        catch (InvalidLabelMapException e)
        {
            throw new PermanentJobException($"label map rejected ({e.Reason}): {e.Message}", e);
        }
        context.ReportProgress(0.2);

        int outputs = translator.Options.UsesFeatures ? Math.Max(1, job.Outputs) : 1; // without features every draw is identical
        long width = 0, height = 0;
        for (int i = 0; i < outputs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] png;
            // One job at a time per translator: the modules are not re-entrant across threads.
            lock (translator)
            {
                using var r = translator.Translate(new Label2ImageRequest(labels)
                {
                    Instances = instances,
                    Seed = unchecked((int)(job.Seed + i)),
                    LoadSize = job.Size,
                });
                (height, width) = (r.Image.shape[0], r.Image.shape[1]);
                png = Label2ImgInput.Encode(r.Image, jpeg: false);
            }
            await context.WriteOutputAsync($"output-{i}.png", png, "image/png", "translation", cancellationToken);
            context.ReportProgress(0.2 + 0.8 * (i + 1) / outputs);
        }
        return new Dictionary<string, double>
        {
            ["seconds"] = sw.Elapsed.TotalSeconds,
            ["outputs"] = outputs,
            ["width"] = width,
            ["height"] = height,
            ["classes_used"] = info.DistinctIds,
        };
    }

    private async Task<ModelLease<Translator>> LoadAsync(JobContext context, BlobRef model, CancellationToken cancellationToken)
    {
        // A folder (trailing slash) is a model folder as the reference saves it: test.py's default which_epoch is latest.
        if (model.Path.EndsWith('/')) model = new BlobRef(model.Path + "latest_net_G.pth");
        var folder = model.Path.Contains('/', StringComparison.Ordinal) ? model.Path[..model.Path.LastIndexOf('/')] : "";
        var files = new Dictionary<string, string>();
        foreach (var name in Siblings)
        {
            var path = folder.Length == 0 ? name : $"{folder}/{name}";
            if (await context.Store.GetPropertiesAsync(path, cancellationToken) is not null)
                files[name] = (await context.Models.GetFileAsync(new BlobRef(path), cancellationToken)).LocalPath;
        }
        return await context.Models.GetAsync(model, local => Translator.LoadFiles(
            new Translator.ModelFiles(local.LocalPath, files.GetValueOrDefault("latest_net_E.pth"),
                files.GetValueOrDefault("features_clustered_010.npy"), files.GetValueOrDefault("opt.txt")),
            device: torch.device(device.Name)), cancellationToken);
    }
}

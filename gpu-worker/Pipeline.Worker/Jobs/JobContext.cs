using System.Security.Cryptography;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Worker.Jobs;

/// <summary>What a handler gets: the job, storage, models, and a writer for its outputs under results/&lt;jobId&gt;/.</summary>
public sealed class JobContext(JobEnvelope envelope, IBlobStore store, ModelCache models, int attempt, int maxBatch, Action<double>? progress = null)
{
    private readonly List<OutputBlob> _outputs = [];

    public JobEnvelope Envelope { get; } = envelope;
    public string JobId => Envelope.JobId;
    public JobSpec Job => Envelope.Job;
    public IBlobStore Store { get; } = store;
    public ModelCache Models { get; } = models;
    public int Attempt { get; } = attempt;

    /// <summary>Largest batch a handler should use; halved by the runner after a CUDA out-of-memory error.</summary>
    public int MaxBatch { get; } = maxBatch;

    public IReadOnlyList<OutputBlob> Outputs => _outputs;

    /// <summary>
    /// What a reader of a succeeded job must know besides its files, e.g. "skipped: no VGG16 weights": the runner puts
    /// it in the result and the status message, so "Succeeded, 0 files" never hides that nothing was computed.
    /// </summary>
    public string? Note { get; set; }

    /// <summary>Reports progress in [0, 1] (written to the status document by the runner).</summary>
    public void ReportProgress(double fraction) => progress?.Invoke(Math.Clamp(fraction, 0, 1));

    /// <summary>Reads an input blob; a missing input is permanent (the upload is gone or the name is wrong).</summary>
    public async Task<byte[]> ReadInputAsync(BlobRef input, CancellationToken cancellationToken)
    {
        var r = await Store.GetBytesAsync(input.Path, cancellationToken)
                ?? throw new PermanentJobException($"input blob '{input.Path}' does not exist");
        return r.Bytes;
    }

    /// <summary>
    /// An input blob as a local file (for readers that take a path, such as .npz statistics), named after the job;
    /// disposing the copy deletes it.
    /// </summary>
    public async Task<LocalCopy> ReadInputToFileAsync(BlobRef input, string suffix, CancellationToken cancellationToken)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{JobId}-{suffix}");
        await File.WriteAllBytesAsync(path, await ReadInputAsync(input, cancellationToken), cancellationToken);
        return new LocalCopy(path);
    }

    /// <summary>A temporary local file, deleted on dispose.</summary>
    public sealed record LocalCopy(string Path) : IDisposable
    {
        public void Dispose() => File.Delete(Path);
    }

    /// <summary>
    /// Writes one output under results/&lt;jobId&gt;/. Names are deterministic, so a redelivered job overwrites
    /// its own partial files instead of adding new ones; result.json (written by the runner last) marks completion.
    /// </summary>
    public Task WriteOutputAsync(string name, ReadOnlyMemory<byte> bytes, string contentType, string role, CancellationToken cancellationToken) =>
        WriteAsync(BlobLayout.Result(JobId, name), bytes, contentType, role, cancellationToken);

    /// <summary>Writes an output elsewhere in the layout (datasets/&lt;batchId&gt;/...), recorded in the result like any other.</summary>
    public async Task WriteAsync(string path, ReadOnlyMemory<byte> bytes, string contentType, string role, CancellationToken cancellationToken)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes.Span));
        await Store.PutBytesAsync(path, bytes, new BlobPutOptions
        {
            ContentType = contentType,
            Metadata = new Dictionary<string, string> { ["sha256"] = sha, ["jobId"] = JobId },
        }, cancellationToken);
        lock (_outputs)
        {
            _outputs.RemoveAll(o => o.Path == path);
            _outputs.Add(new OutputBlob(path, contentType, bytes.Length, sha, role));
        }
    }
}

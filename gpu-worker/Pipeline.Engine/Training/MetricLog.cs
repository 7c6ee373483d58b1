using System.Text.Json;

namespace Pipeline.Engine.Training;

/// <summary>Appends one JSON object per line (stylegan3's metric-jsonl convention); flushed per record so a crash loses nothing.</summary>
public sealed class MetricLog : IDisposable
{
    private readonly StreamWriter _writer;

    public MetricLog(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
        FilePath = path;
    }

    public string FilePath { get; }

    public void Write(IReadOnlyDictionary<string, object?> record) => _writer.WriteLine(JsonSerializer.Serialize(record));

    /// <summary>Reads every record of a log (for plots); numbers come back as double.</summary>
    public static List<Dictionary<string, double>> ReadNumbers(string path)
    {
        var rows = new List<Dictionary<string, double>>();
        if (!File.Exists(path)) return rows;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            rows.Add(doc.RootElement.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.Number)
                .ToDictionary(p => p.Name, p => p.Value.GetDouble()));
        }
        return rows;
    }

    public void Dispose() => _writer.Dispose();
}

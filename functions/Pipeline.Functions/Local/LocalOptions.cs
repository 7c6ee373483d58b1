using System.Globalization;
using System.Security.Cryptography;

namespace Pipeline.Functions.Local;

/// <summary>
/// `--local [--data DIR] [--port N] [--key KEY]`: serve the dashboard and gallery over a local store (e.g. what
/// `pipeline demo` wrote) through <see cref="LocalHost"/>, on 127.0.0.1 only, behind a function key that is
/// generated per run unless given.
/// </summary>
public sealed record LocalOptions(string DataRoot, int Port, string Key)
{
    /// <summary>Removes the local options from <paramref name="args"/>; null when --local is absent.</summary>
    public static LocalOptions? Parse(ref string[] args)
    {
        if (!args.Contains("--local")) return null;
        string data = Path.Combine(".pipeline", "demo", "data");
        int port = 7071;
        string key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var rest = new List<string>();
        var a = args;
        for (int i = 0; i < a.Length; i++)
        {
            string Next() => i + 1 < a.Length ? a[++i] : throw new ArgumentException($"{a[i]} needs a value");
            switch (a[i])
            {
                case "--local": break;
                case "--data": data = Next(); break;
                case "--port": port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--key": key = Next(); break;
                default: rest.Add(a[i]); break;
            }
        }
        args = [.. rest];
        if (!Directory.Exists(data))
            throw new DirectoryNotFoundException($"{Path.GetFullPath(data)} does not exist: run `./pipeline demo` first, or pass --data <folder laid out like the blob containers>.");
        return new LocalOptions(Path.GetFullPath(data), port, key);
    }

    /// <summary>Without the key, so the options can be printed or logged.</summary>
    public override string ToString() => $"LocalOptions {{ DataRoot = {DataRoot}, Port = {Port} }}";

    /// <summary>Configuration for local mode: the file-system store, in-process queues, key auth.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["Pipeline:Storage:Kind"] = "local",
        ["Pipeline:Storage:Root"] = DataRoot,
        ["Pipeline:Queue:Kind"] = "inprocess",
        ["Pipeline:Http:Auth"] = "Keys",
        ["Pipeline:Http:Keys:0"] = Key,
    };

    /// <summary>
    /// Prints where to look, to the console only: the links carry the key, so they are never a log line (logs end up
    /// in files and telemetry).
    /// </summary>
    public void PrintWelcome(TextWriter console, string baseUrl)
    {
        var url = baseUrl.TrimEnd('/') + "/api";
        console.WriteLine($"Serving {DataRoot} locally.");
        console.WriteLine($"  Dashboard: {url}/dashboard?code={Key}");
        console.WriteLine($"  Gallery:   {url}/dashboard/gallery.html?code={Key}");
        console.WriteLine("Jobs asked for here (\"more like this\") go to an in-process queue that no worker reads; run the worker against shared storage and Service Bus for that. Ctrl+C stops.");
    }
}

namespace Pipeline.Worker.Hosting;

/// <summary>Device selection for the engine.</summary>
public static class PipelineServices
{
    /// <summary>The device the engine runs on, as a torch device name ("cpu", "cuda", "cuda:1"); see <see cref="Engine.Devices.Parse"/>.</summary>
    public static string ResolveDevice(string device) => Engine.Devices.Parse(device).ToString();
}

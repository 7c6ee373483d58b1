namespace Pipeline.Worker.Hosting;

/// <summary>Device selection for the engine.</summary>
public static class PipelineServices
{
    /// <summary>"cuda" when asked for or when "auto" finds a GPU; otherwise "cpu".</summary>
    public static string ResolveDevice(string device) => device.ToLowerInvariant() switch
    {
        "auto" => TorchSharp.torch.cuda.is_available() ? "cuda" : "cpu",
        "cuda" when !TorchSharp.torch.cuda.is_available() => throw new InvalidOperationException("Device 'cuda' was requested but CUDA is not available (is the CUDA libtorch on LD_LIBRARY_PATH?)"),
        var d => d,
    };
}

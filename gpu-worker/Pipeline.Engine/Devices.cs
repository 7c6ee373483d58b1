using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine;

/// <summary>
/// The one reader of device names: the CLI's <c>--device</c>, the worker's <c>Pipeline:Device</c> setting and job
/// handlers all go through <see cref="Parse"/>, so "auto" means the same everywhere and a CUDA request on a CPU-only
/// libtorch fails the same way.
/// </summary>
public static class Devices
{
    /// <summary>What <see cref="Parse"/> accepts, for help texts.</summary>
    public const string Names = "auto (CUDA when available, else CPU), cpu, cuda or cuda:N";

    public static Device Parse(string? name)
    {
        var n = string.IsNullOrWhiteSpace(name) ? "auto" : name.Trim().ToLowerInvariant();
        if (n == "auto") return cuda.is_available() ? CUDA : CPU;
        if (n == "cpu") return CPU;
        if (n != "cuda" && !n.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"device '{name}' is not one of: {Names}");
        if (!cuda.is_available())
            throw new ArgumentException($"device '{name}': CUDA is not available to this libtorch (a TorchSharp-cpu build, no GPU, or the CUDA libtorch is not on LD_LIBRARY_PATH); use cpu or auto");
        if (n == "cuda") return CUDA;
        int count = cuda.device_count();
        if (int.TryParse(n.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) && index < count)
            return new Device(DeviceType.CUDA, index);
        throw new ArgumentException($"device '{name}': this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}");
    }
}

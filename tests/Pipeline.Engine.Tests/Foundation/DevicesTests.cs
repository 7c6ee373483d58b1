using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Foundation;

/// <summary>The one device-name reader behind --device and Pipeline:Device.</summary>
public class DevicesTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("auto")]
    [InlineData(" AUTO ")]
    public void AutoIsCudaWhenAvailableElseCpu(string? name) =>
        Assert.Equal(cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, Devices.Parse(name).type);

    [Fact]
    public void CpuIsCpu() => Assert.Equal(DeviceType.CPU, Devices.Parse("Cpu").type);

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda0")]
    [InlineData("mps")]
    public void UnknownNamesListWhatIsAccepted(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse(name));
        Assert.Contains(Devices.Names, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:7")]
    public void CudaOnACpuOnlyLibtorchSaysWhy(string name)
    {
        if (cuda.is_available())
        {
            // On a GPU machine, an index past the last device is refused with the count instead.
            if (name == "cuda:7" && cuda.device_count() <= 7) Assert.Throws<ArgumentException>(() => Devices.Parse(name));
            else Assert.Equal(DeviceType.CUDA, Devices.Parse(name).type);
            return;
        }
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse(name));
        Assert.Contains("CUDA is not available", e.Message, StringComparison.Ordinal);
    }
}

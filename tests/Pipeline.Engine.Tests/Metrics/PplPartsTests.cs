using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics.Ppl;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>
/// The generator-independent parts of stylegan2/ppl_parts (slerp, lerp, percentile filter) through the public PPL
/// API; tolerances from its meta.json. The generator parts of that fixture belong to the StyleGAN2 tests.
/// </summary>
[Trait("Category", "Parity")]
public class PplPartsTests
{
    [Fact]
    public void SlerpLerpAndFilterMatchTheReference()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("stylegan2"), "ppl_parts");
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "meta.json")), $"Fixture case stylegan2/ppl_parts not present ({dir}/meta.json)");
        using var meta = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "meta.json")));
        var io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
        double eps = meta.RootElement.GetProperty("config").GetProperty("eps").GetDouble();
        var tensors = meta.RootElement.GetProperty("tensors");
        void Check(string name, Tensor actual)
        {
            var m = tensors.GetProperty(name);
            Close.Assert(actual, io[name], m.GetProperty("rtol").GetDouble(), m.GetProperty("atol").GetDouble(), name);
        }
        using var scope = NewDisposeScope();
        var (a, b, t) = (io["in.a"], io["in.b"], io["in.t"].unsqueeze(1));
        Check("out.slerp", PerceptualPathLength.Slerp(a, b, t));
        Check("out.slerp_eps", PerceptualPathLength.Slerp(a, b, t + eps));
        Check("out.lerp", PerceptualPathLength.Lerp(a, b, t));
        var f = PplFilter.Apply(io["in.distances"].to(ScalarType.Float64).data<double>().ToArray());
        Check("out.percentile_lo", tensor(new[] { f.Lo }));
        Check("out.percentile_hi", tensor(new[] { f.Hi }));
        Check("out.ppl", tensor(new[] { f.Mean }));
        Check("out.n_kept", tensor(new[] { (double)f.Kept }));
    }
}

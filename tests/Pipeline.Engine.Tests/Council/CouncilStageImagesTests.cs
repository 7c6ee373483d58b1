using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>
/// The council-D stage's images (train_step's optional dis_council_update.x_ba / x_ba_less, which the public set
/// dropped for size): the trainer exposes them, they are the reference's translations, and the parity suite compares
/// them whenever a case carries them.
/// </summary>
[Trait("Category", "Parity")]
public sealed class CouncilStageImagesTests
{
    private const string XBa = "dis_council_update.x_ba", XBaLess = "dis_council_update.x_ba_less";

    /// <summary>Council train-step cases in which the council-D stage ran.</summary>
    public static TheoryData<string> Cases()
    {
        var cases = TestPaths.FixtureCases("council", "manifest.json")
            .Where(n => File.ReadAllText(Path.Combine(TestPaths.FixtureRoot!, "council", n, "manifest.json")).Contains("\"dis_council_update.loss_sum\"", StringComparison.Ordinal))
            .ToList();
        return new TheoryData<string>(cases.Count > 0 ? cases : ["(no council train_step fixtures)"]);
    }

    private static string CaseDir(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), name);
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "manifest.json")), $"{dir} has no manifest.json");
        return dir;
    }

    /// <summary>
    /// The generators do not change before the G step, so the reference's stage-1 and stage-3 images are what the
    /// council stage must produce for the same style: x_ba with z = stage 1's recorded style, and x_ba_less with
    /// z = stage 3's style / discriminetro_less_style_by (the trainer scales it back). Reference images, image tolerance.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void StageImagesAreTheReferenceTranslations(string name)
    {
        using var scope = NewDisposeScope();
        using var fx = new CouncilFixture(CaseDir(name));
        var (members, iteration) = CouncilTrainStepParity.LoadMembers(fx);
        using var trainer = new CouncilTrainer(fx.Config, members) { Iteration = iteration };
        var xB = fx.Get("x_b");
        double lessBy = fx.Config.Council.LessStyleBy;

        var c = trainer.DisCouncilUpdate(xB, fx.Get("noise.dis_update.s_a"), new RandomCouncilChooser(0));
        fx.AssertClose("dis_update.x_ba", c.XBa);
        var zGen = fx.Get("noise.gen_update.s_a");
        c = trainer.DisCouncilUpdate(xB, lessBy == 0 ? zGen : zGen / lessBy, new RandomCouncilChooser(0));
        fx.AssertClose("gen_update.x_ba", c.XBaLess);
    }

    /// <summary>
    /// The recorded council stage: the exposed images, judged by the council discriminators as loaded (before their
    /// step), give the reference's per-scale terms — x_ba_i as fake for \hat D_i, x_ba_less_j (j = the recorded
    /// choice) as real. Ties the exposed tensors, not only the trainer's internal ones, to reference numbers.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ExposedImagesGiveTheReferenceTerms(string name)
    {
        using var scope = NewDisposeScope();
        using var fx = new CouncilFixture(CaseDir(name));
        var c = ReplayCouncilStage(fx);
        var (judges, _) = CouncilTrainStepParity.LoadMembers(fx);
        var xB = fx.Get("x_b");
        using var _ = no_grad();
        var fake = stack(judges.Select((m, i) => CouncilLosses.LsganTerms(m.DisCouncil.forward(c.XBa[i], xB), 0)).ToArray());
        var real = stack(judges.Select((m, i) => stack(c.Choices[i].Select(j => CouncilLosses.LsganTerms(m.DisCouncil.forward(c.XBaLess[j], xB), 1)).ToArray())).ToArray());
        fx.AssertClose("dis_council_update.fake_terms", fake);
        fx.AssertClose("dis_council_update.real_terms", real);
    }

    /// <summary>
    /// The suite checks the two images whenever a case carries them: a copy of the case (in a temp folder) with them
    /// set passes when they are right and fails, naming the tensor, when one is off by more than its tolerance.
    /// The added values are the engine's own (there are no reference values in the public set), so this shows the
    /// wiring, not parity; parity of the images is what the two tests above show.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void SuiteComparesTheImagesWhenACaseCarriesThem(string name)
    {
        using var scope = NewDisposeScope();
        var source = CaseDir(name);
        Tensor xBa, xBaLess;
        double atol;
        using (var fx = new CouncilFixture(source))
        {
            var c = ReplayCouncilStage(fx);
            (xBa, xBaLess) = (c.XBa.clone(), c.XBaLess.clone());
            atol = fx.Manifest["dis_update.x_ba"].Atol!.Value;
        }
        var dir = Directory.CreateTempSubdirectory("council-images-").FullName;
        try
        {
            Derive(source, dir, xBa, xBaLess, atol);
            CouncilParityTests.RunCase(dir);

            Derive(source, dir, xBa, xBaLess + 3 * atol, atol);
            var e = Assert.ThrowsAny<Exception>(() => CouncilParityTests.RunCase(dir));
            Assert.Contains($"{XBaLess}: max |diff|", e.Message, StringComparison.Ordinal);

            Derive(source, dir, xBa - 3 * atol, xBaLess, atol);
            e = Assert.ThrowsAny<Exception>(() => CouncilParityTests.RunCase(dir));
            Assert.Contains($"{XBa}: max |diff|", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Stage 2 as recorded (fresh weights, stage 1 first as the reference ran it, recorded style and choices).</summary>
    private static DisCouncilStepResult ReplayCouncilStage(CouncilFixture fx)
    {
        var (members, iteration) = CouncilTrainStepParity.LoadMembers(fx);
        using var trainer = new CouncilTrainer(fx.Config, members) { Iteration = iteration };
        trainer.DisUpdate(fx.Get("x_a"), fx.Get("x_b"), fx.Get("noise.dis_update.s_a"));
        var recorded = fx.Get("dis_council_update.choices");
        return trainer.DisCouncilUpdate(fx.Get("x_b"), fx.Get("noise.dis_council_update.s_a"), new Recorded(recorded));
    }

    private sealed class Recorded(Tensor choices) : ICouncilChooser
    {
        public int Choose(IReadOnlyList<int> pool, int member, int k) => (int)choices[member, k].item<long>();
    }

    /// <summary>Copies the case into <paramref name="dir"/> with the two images set in io.safetensors and manifest.json.</summary>
    private static void Derive(string source, string dir, Tensor xBa, Tensor xBaLess, double atol)
    {
        using var scope = NewDisposeScope();
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        var io = SafeTensors.Load(Path.Combine(source, "io.safetensors"));
        io[XBa] = xBa;
        io[XBaLess] = xBaLess;
        SafeTensors.Save(Path.Combine(dir, "io.safetensors"), io);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "manifest.json")))!;
        var tensors = manifest["tensors"]!.AsArray();
        foreach (var old in tensors.Where(t => t!["name"]!.GetValue<string>() is XBa or XBaLess).ToArray()) tensors.Remove(old);
        foreach (var (n, t) in new[] { (XBa, xBa), (XBaLess, xBaLess) })
            tensors.Add(new JsonObject
            {
                ["name"] = n,
                ["dtype"] = "float32",
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["meaning"] = "translated images (member, B, 3, H, W) of that stage",
                ["atol"] = atol,
            });
        File.WriteAllText(Path.Combine(dir, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

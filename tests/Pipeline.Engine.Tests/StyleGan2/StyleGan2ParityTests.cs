using Pipeline.Tests;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>
/// Walks every case under $PIPELINE_FIXTURES/stylegan2/, replays its inputs and compares every out.* tensor with
/// the tolerance of meta.json. The case kind (meta "fixture", else the folder name) picks the handler; an unknown
/// kind fails.
/// </summary>
[Trait("Category", "Parity")]
public sealed class StyleGan2ParityTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in TestPaths.FixtureCases("stylegan2", "meta.json")) data.Add(c);
        if (data.Count == 0) data.Add(NoCases);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        if (name == NoCases) Requirement.Skip($"No stylegan2 fixture cases (folders with meta.json) under {TestPaths.RequireFixtureDir("stylegan2")}");
        using var c = Sg2Case.Open(name);
        if (!Handlers.TryGetValue(c.Kind, out var handler))
            Assert.Fail($"stylegan2 fixture kind '{c.Kind}' ({c.Dir}) has no handler; known: {string.Join(", ", Handlers.Keys)}");
        c.CheckParamsMatchCheckpoint();
        handler(c);
        c.AssertAllExpectedChecked();
    }

    private const string NoCases = "(no fixtures)";

    private static readonly Dictionary<string, Action<Sg2Case>> Handlers = new()
    {
        ["ops"] = OpsParity.Run,
        ["g_mapping"] = GeneratorParity.Mapping,
        ["g_forward"] = GeneratorParity.Forward,
        ["g_style_mixing"] = GeneratorParity.StyleMixing,
        ["g_wplus"] = GeneratorParity.WPlus,
        ["g_gradients"] = GeneratorParity.Gradients,
        ["d_forward"] = GeneratorParity.DiscriminatorForward,
        ["checkpoint_train_layout"] = GeneratorParity.TrainLayout,
        ["soat_styles"] = SoatParity.Styles,
        ["soat_merge_extension"] = SoatParity.MergeExtension,
        ["soat_panorama"] = SoatParity.Panorama,
        ["soat_blend"] = SoatParity.Blend,
        ["soat_blend_bbox"] = SoatParity.BlendBox,
        ["soat_patch_swap"] = SoatParity.PatchSwap,
        ["soat_toonify"] = SoatParity.Toonify,
        ["train_losses"] = TrainingParity.Losses,
        ["projector_w"] = TrainingParity.Projector,
        ["projector_wplus"] = TrainingParity.Projector,
        ["ppl_parts"] = TrainingParity.Ppl,
    };
}

using Pipeline.Engine;
using Pipeline.Engine.Metrics;
using TorchSharp;

namespace Pipeline.Worker.Jobs.Shared;

/// <summary>
/// LPIPS (VGG16 v0.1) for the projector and for distances, loaded once from the feature-network cache
/// (the worker's feature-network store: $PIPELINE_MODELS, filled by `pipeline models fetch vgg16`). Null when the weights are absent: callers fall
/// back to MSE and say so, instead of using a network with random weights.
/// </summary>
public sealed class PerceptualLossProvider
{
    private readonly Lazy<Task<(IPerceptualLoss? Loss, string? Missing)>> _loss;

    public PerceptualLossProvider(Hosting.EngineDevice device, FeatureNetworkStore features)
    {
        _loss = new(async () =>
        {
            try
            {
                var (model, _) = await features.LoadLpipsVggAsync();
                model.to(torch.device(device.Name));
                return (model, null);
            }
            catch (WeightsMissingException e)
            {
                return (null, e.Message);
            }
        });
    }

    /// <summary>The loss, or null with the reason it is unavailable.</summary>
    public Task<(IPerceptualLoss? Loss, string? Missing)> GetAsync() => _loss.Value;
}

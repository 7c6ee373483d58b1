using System.Reflection;
using Xunit.v3;

[assembly: Pipeline.Worker.Tests.GradModeGuard]

namespace Pipeline.Worker.Tests;

/// <summary>
/// Fails a test that starts with gradients off on its thread, and turns them back on for the tests after it. Grad
/// mode belongs to the thread (libtorch's GradMode is thread-local): a test that awaited inside <c>no_grad()</c>
/// resumed on another thread and left the first one with gradients off, and later tests there (training and
/// projection steps) failed at random with "element 0 of tensors does not require grad". The culprit cannot be named
/// here (test continuations move between threads); <see cref="Architecture.ThreadScopeTests"/> finds such code.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class GradModeGuardAttribute : BeforeAfterTestAttribute
{
    public override void Before(MethodInfo methodUnderTest, IXunitTest test)
    {
        if (TorchSharp.torch.is_grad_enabled()) return;
        TorchSharp.torch.set_grad_enabled(true);
        throw new InvalidOperationException(
            "gradients were off on this thread when the test started: an earlier test left no_grad() on here, most likely by awaiting inside it (see Architecture.ThreadScopeTests)");
    }
}

using System.Diagnostics.CodeAnalysis;

namespace Pipeline.Tests;

/// <summary>
/// The one way a test says "something I need is not on this machine" (a fixture folder, a service such as Azurite or
/// RabbitMQ, Chromium, a model file, a tool). Locally the test skips with the plain-English reason. With CI=true
/// (any letter case) it fails instead, and the failure names what is missing: CI must not go green by skipping.
/// Every skip in tests/ goes through here; build/test.sh also fails a CI run that reports any skipped test.
/// </summary>
public static class Requirement
{
    /// <summary>The environment variable CI systems set (.ci/run runs build/test.sh with CI=true).</summary>
    public const string CiVariable = "CI";

    /// <summary>True when CI is "true" (case-insensitive, surrounding blanks ignored).</summary>
    public static bool IsCi => IsCiValue(Environment.GetEnvironmentVariable(CiVariable));

    public static bool IsCiValue(string? value) => string.Equals(value?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The failure message under CI: names what is missing, and says why this is not a skip.</summary>
    public static string CiFailureMessage(string reason) =>
        $"CI=true: required test prerequisite missing (a skip would let CI pass without running this test): {reason}";

    /// <summary>Skips the test with <paramref name="reason"/> (what is missing, and how to get it); fails under CI=true.</summary>
    [DoesNotReturn]
    public static void Skip(string reason) => Skip(reason, IsCi);

    /// <summary><see cref="Skip(string)"/> with the CI decision given, so the mechanism itself can be tested.</summary>
    [DoesNotReturn]
    public static void Skip(string reason, bool ci)
    {
        if (ci) Assert.Fail(CiFailureMessage(reason));
        Assert.Skip(reason);
        throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>Continues when <paramref name="present"/> holds; otherwise <see cref="Skip(string)"/>.</summary>
    public static void SkipUnless([DoesNotReturnIf(false)] bool present, string reason)
    {
        if (!present) Skip(reason);
    }

    /// <summary>Continues when <paramref name="missing"/> is false; otherwise <see cref="Skip(string)"/>.</summary>
    public static void SkipWhen([DoesNotReturnIf(true)] bool missing, string reason)
    {
        if (missing) Skip(reason);
    }
}

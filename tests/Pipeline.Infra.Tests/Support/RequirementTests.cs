using Pipeline.Tests;
using Xunit.Sdk;

namespace Pipeline.Infra.Tests.Support;

/// <summary>
/// The mechanism behind every "prerequisite missing" skip (tests/Shared/Requirement.cs): locally a skip with the plain
/// reason, with CI=true a failure that names what is missing. The CI decision is passed in, so these tests neither read
/// nor change the process environment. (The skip is caught with try/catch: xunit's Assert.Throws and Record.Exception
/// let a skip exception through, so that a skip inside them still skips the test.)
/// </summary>
public sealed class RequirementTests
{
    private const string Reason = "Azurite not installed at /nowhere/azurite-blob: run `bash build/prereqs.d/10-azurite.sh`";

    [Fact]
    public void Under_CI_a_missing_prerequisite_fails_and_names_it()
    {
        var ex = Assert.Throws<FailException>(() => Requirement.Skip(Reason, ci: true));
        Assert.StartsWith("CI=true: required test prerequisite missing", ex.Message, StringComparison.Ordinal);
        Assert.Contains(Reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_CI_a_missing_prerequisite_skips_with_the_plain_reason()
    {
        var ex = Assert.IsType<SkipException>(Caught(() => Requirement.Skip(Reason, ci: false)));
        Assert.Contains(Reason, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("CI=true", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData(" true\n", true)]
    [InlineData("false", false)]
    [InlineData("1", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void CI_counts_when_it_is_true_in_any_letter_case(string? value, bool ci) =>
        Assert.Equal(ci, Requirement.IsCiValue(value));

    [Fact]
    public void A_present_prerequisite_lets_the_test_go_on()
    {
        Requirement.SkipUnless(true, "never reported");
        Requirement.SkipWhen(false, "never reported");
    }

    [Fact]
    public void This_process_fails_or_skips_according_to_its_CI_variable()
    {
        var ex = Caught(() => Requirement.SkipUnless(false, "a prerequisite that is never there"));
        Assert.IsType(Requirement.IsCi ? typeof(FailException) : typeof(SkipException), ex);
        Assert.Contains("a prerequisite that is never there", ex!.Message, StringComparison.Ordinal);
    }

    private static Exception? Caught(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}

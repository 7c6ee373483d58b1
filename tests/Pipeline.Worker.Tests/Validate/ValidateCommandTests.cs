using System.Text;
using System.Text.Json.Nodes;
using Pipeline.Worker.Cli.Validate;
using SkiaSharp;

namespace Pipeline.Worker.Tests.Validate;

/// <summary>`pipeline validate`: one JSON verdict per file, exit code 0 only when all are accepted.</summary>
public sealed class ValidateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("validate-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Png(int w, int h)
    {
        using var bmp = new SKBitmap(w, h);
        bmp.Erase(new SKColor(40, 120, 200));
        using var img = SKImage.FromBitmap(bmp);
        return img.Encode(SKEncodedImageFormat.Png, 100).ToArray();
    }

    private (int ExitCode, List<JsonObject> Lines) Run(params string[] args)
    {
        var output = new StringWriter();
        var command = new ValidateCommand { Output = output };
        var exit = command.Build().Parse(args).Invoke();
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        return (exit, lines);
    }

    [Fact]
    public void AllAcceptedExitsZeroWithTheDerivedJobs()
    {
        var a = Write("a.png", Png(300, 200));
        var b = Write("b.png", Png(256, 256));
        var (exit, lines) = Run("--job", "project", a, b);
        Assert.Equal(0, exit);
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.True((bool)l["accepted"]!));
        var job = lines[0]["jobs"]!.AsArray().Single()!;
        Assert.Equal("projection", (string?)job["kind"]);
        Assert.StartsWith("prj-", (string?)job["jobId"], StringComparison.Ordinal);
        Assert.Equal(300, (int)lines[0]["image"]!["width"]!);
    }

    [Fact]
    public void OneRejectionMakesTheExitCodeNonZeroAndSaysWhy()
    {
        var good = Write("good.png", Png(300, 200));
        var svg = Write("evil.png", Encoding.UTF8.GetBytes("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"));
        var tiny = Write("tiny.png", Png(20, 20));
        var missing = Path.Combine(_dir, "missing.jpg");
        var (exit, lines) = Run("--no-face-check", good, svg, tiny, missing);
        Assert.Equal(1, exit);
        Assert.Equal(["accepted", "not_an_image", "too_small", "unreadable"],
            lines.Select(l => (bool)l["accepted"]! ? "accepted" : (string)l["code"]!));
        Assert.All(lines.Skip(1), l => Assert.False(string.IsNullOrWhiteSpace((string?)l["message"])));
    }

    [Fact]
    public void TheSameFileGivesTheSameJobIdEveryTime()
    {
        var a = Write("same.png", Png(300, 200));
        var first = Run("--job", "project", a).Lines[0]["jobs"]![0]!["jobId"]!.ToString();
        var second = Run("--job", "project", a).Lines[0]["jobs"]![0]!["jobId"]!.ToString();
        Assert.Equal(first, second);
    }
}

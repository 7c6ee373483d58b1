// Azure Functions custom handler: the host forwards trigger invocations as HTTP POSTs to /<FunctionName>.
var builder = WebApplication.CreateBuilder(args);
var port = Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT");
if (!string.IsNullOrEmpty(port)) builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
var app = builder.Build();
app.MapGet("/api/health", () => Results.Ok(new { status = "ok" }));
app.Run();

/// <summary>Entry point marker for WebApplicationFactory/TestHost.</summary>
public partial class Program;

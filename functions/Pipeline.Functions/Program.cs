// Azure Functions custom handler: the host forwards trigger invocations as HTTP POSTs to /<FunctionName>.
// `--local` serves the dashboard and gallery over a local folder instead (see Host/LocalOptions.cs).
WebApplication app;
try
{
    app = Pipeline.Functions.HandlerApp.Create(args);
}
catch (Exception e) when (e is DirectoryNotFoundException or ArgumentException or FormatException)
{
    // A usage error: one line saying what to do, not a stack trace.
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
app.Run();
return 0;

/// <summary>Entry point marker for TestHost.</summary>
public partial class Program;

// Azure Functions .NET isolated worker: the Functions host starts this process and invokes the function classes
// (Functions/) over gRPC; HTTP requests reach them through the ASP.NET Core integration.
// `--local` serves the dashboard and gallery over a local folder instead, without the host (Local/LocalHost.cs).
using Microsoft.Extensions.Hosting;
using Pipeline.Functions;
using Pipeline.Functions.Local;

LocalOptions? local;
try
{
    local = LocalOptions.Parse(ref args);
}
catch (Exception e) when (e is DirectoryNotFoundException or ArgumentException or FormatException)
{
    // A usage error: one line saying what to do, not a stack trace.
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
if (local is not null)
{
    var app = LocalHost.Create(local, args);
    await app.RunAsync();
    return 0;
}
await FunctionsApp.CreateBuilder(args).Build().RunAsync();
return 0;

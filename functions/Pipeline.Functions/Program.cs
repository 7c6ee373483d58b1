// Azure Functions custom handler: the host forwards trigger invocations as HTTP POSTs to /<FunctionName>.
var app = Pipeline.Functions.HandlerApp.Create(args);
app.Run();

/// <summary>Entry point marker for TestHost.</summary>
public partial class Program;

namespace Pipeline.Worker.Operations;

/// <summary>
/// An input no retry can fix (undecodable or rejected upload, no face where one is required). A job fails for good
/// (the job runner treats it as permanent); the CLI reports the message and exits with an error code.
/// </summary>
public sealed class UnusableInputException : Exception
{
    public UnusableInputException(string message, Exception? inner = null) : base(message, inner) { }
    public UnusableInputException() { }
    public UnusableInputException(string message) : base(message) { }
}

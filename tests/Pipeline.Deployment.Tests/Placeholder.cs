namespace Pipeline.Deployment.Tests;

namespace Pipeline.Infra;

@{
    Synopsis    = 'Lists saved PmpMail profiles.'
    Description = 'Get-PmpMailProfile returns the profiles saved with Register-PmpMailProfile, optionally filtered by name (wildcards allowed). A profile shows where its credential is (thumbprint, PFX path, environment variable name, that a DPAPI-protected secret is stored, the managed identity, or the federated token file), never a secret.'
    Parameters  = @{ Name = 'Profile names to return; wildcards are allowed. A name without wildcards that does not exist is an error.' }
    Inputs      = @{ 'System.String' = 'Names, by property name.' }
    Outputs     = @{ 'PmpMail.PmpMailProfile' = 'Name, TenantId, ClientId, CredentialType (CertificateThumbprint, CertificatePath, ClientSecretProtected, ClientSecretEnvironmentVariable, ManagedIdentity, WorkloadIdentity, EnvironmentVariable, GoogleServiceAccountKeyPath, GoogleServiceAccountKeyEnvironmentVariable, GoogleServiceAccountCertificateThumbprint or GoogleServiceAccountCertificatePath), CertificateThumbprint, CertificatePath, ClientSecretEnvironmentVariable, ManagedIdentityObjectId, ManagedIdentityResourceId, FederatedTokenFile, ServiceAccountKeyPath, ServiceAccountKeyEnvironmentVariable, ServiceAccountEmail, ServiceAccountKeyId, Impersonate, GoogleTokenUri, GmailRoot (Google Workspace), Environment, AuthorityHost, GraphRoot, TrustedCaPath, CreatedOn, Path.' }
    Examples    = @(
        @{ Title = 'All profiles'; Code = 'Get-PmpMailProfile'; Remarks = 'Lists every saved profile as a table.' }
        @{ Title = 'MSP tenants'; Code = 'Get-PmpMailProfile -Name ''msp-*'' | ForEach-Object { Test-PmpMailPermission -ProfileName $_.Name -Quiet }'; Remarks = 'Checks Mail.Send in every customer tenant.' }
    )
    Links       = @('Register-PmpMailProfile', 'Unregister-PmpMailProfile')
}
